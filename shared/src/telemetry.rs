//! Logging: JSON on Lambda (one object per line, with the request span's fields), compact text
//! locally. Filter with `RUST_LOG` (default `info`). Sensitive values are wrapped in
//! [`crate::Sensitive`] and print as `[REDACTED]`; handlers never log bodies or headers.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    // A second init (tests, or serve after a library did it) keeps the first subscriber.
    let _ = if on_lambda {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .try_init()
    } else {
        builder.compact().try_init()
    };
    // A panic's message may quote the values it was handling: log where it happened, not what.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic");
    }));
}
