//! What an AWS SDK error may say in a log or a stored record: its kind and the service's error
//! code, never the service's message. A message may quote a request's values (an email address or
//! a phone number, in any spelling, case or encoding), so no replacement of the known value can
//! be trusted to take them all out: the text is built from parts that cannot hold them.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The error's kind and, for a service's refusal, its code (e.g. `MessageRejected`).
pub fn summary<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> String {
    match error {
        SdkError::ServiceError(service) => {
            let code = service
                .err()
                .code()
                .filter(|c| is_code(c))
                .unwrap_or("unknown");
            format!("the service refused the request: {code}")
        }
        SdkError::TimeoutError(_) => "the request timed out".into(),
        SdkError::DispatchFailure(_) => "the service could not be reached".into(),
        SdkError::ResponseError(_) => "the service's answer could not be read".into(),
        SdkError::ConstructionFailure(_) => "the request could not be built".into(),
        _ => "the SDK failed".into(),
    }
}

/// An error code as services send them: a short identifier, nothing a value could hide in.
fn is_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sesv2::operation::send_email::SendEmailError;
    use aws_sdk_sesv2::types::error::MessageRejected;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    fn refusal(code: &str, message: &str) -> SdkError<SendEmailError, Response> {
        let rejected = MessageRejected::builder()
            .message(message)
            .meta(ErrorMetadata::builder().code(code).message(message).build())
            .build();
        SdkError::service_error(
            SendEmailError::MessageRejected(rejected),
            Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty()),
        )
    }

    #[test]
    fn a_recipient_in_any_spelling_never_reaches_the_text() {
        for message in [
            "Email address is not verified: Jane.Demo@Example.ORG",
            "Illegal address <jane.demo%40example.org>",
            "Destination +1 (555) 0100-123 is opted out",
        ] {
            let text = summary(&refusal("MessageRejected", message));
            assert_eq!(text, "the service refused the request: MessageRejected");
        }
        // A code that is not an identifier is not repeated either.
        let text = summary(&refusal("jane.demo@example.org", "x"));
        assert_eq!(text, "the service refused the request: unknown");
    }
}
