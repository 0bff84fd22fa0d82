//! Finding a patient by what the front desk knows: the normalised terms a patient's name, phone and
//! date of birth are indexed under, how a typed query splits into the same terms, and whether an
//! opened record really matches it. Pure: the blind index that hides the terms in the table is
//! the storage layer's.
//!
//! - A name is split into words (letters and digits; an apostrophe joins, anything else separates),
//!   lowercased and stripped of the common Latin diacritics, so "José O'Brien-Smith" is found as
//!   "jose", "obrien" and "smith". Each word is indexed by its prefixes of [`MIN_PREFIX`] to
//!   [`MAX_PREFIX`] letters, so "Jan" finds Jane and "Christoph" finds Christopher.
//! - A phone number is indexed by its last [`PHONE_TAIL`] digits, however it was typed; a search
//!   with at least that many digits matches on them, and the opened record must end with the
//!   digits typed (or they with the whole record: a country code typed, none stored).
//! - A date of birth is indexed as it is (`YYYY-MM-DD`).
//!
//! Every term of a query must match (a search for "jane 1985-04-12" is Jane born that day).

use std::collections::BTreeSet;

use jiff::civil::Date;

/// The shortest prefix of a name word that is indexed (and searched).
pub const MIN_PREFIX: usize = 3;
/// The longest prefix indexed; a longer typed word is looked up by this prefix, then checked.
pub const MAX_PREFIX: usize = 8;
/// Name words indexed per record: a long name's further words are found through the others.
pub const MAX_NAME_WORDS: usize = 4;
/// How many trailing digits of a phone number are indexed.
pub const PHONE_TAIL: usize = 7;
/// Terms a query may hold: each is one index lookup.
pub const MAX_QUERY_TERMS: usize = 4;
/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// Why a query cannot be searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing in it is long enough to look up (a name word needs three letters, a phone seven
    /// digits).
    #[error("the search has nothing to look up")]
    TooShort,
    /// More terms, or more characters, than a search takes.
    #[error("the search is too long")]
    TooLong,
    /// A date written another way than `YYYY-MM-DD` (`04/12/1988`, `1988-4-12`).
    #[error("a date of birth is written YYYY-MM-DD")]
    DateFormat,
}

/// Whether `part` reads as a date in another form than `YYYY-MM-DD`: three groups of digits
/// (day or month, day or month, year; or year, month, day) with `/`, `.` or `-` between them.
fn other_date_form(part: &str) -> bool {
    let groups: Vec<&str> = part.split(['/', '.', '-']).collect();
    if groups.len() != 3
        || groups
            .iter()
            .any(|g| g.is_empty() || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let len: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    matches!(len[..], [1..=2, 1..=2, 2 | 4] | [4, 1..=2, 1..=2])
}

fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ğ' | 'ĝ' | 'ġ' | 'ģ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => 's',
        'ţ' | 'ť' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

/// A name's words, normalised (lowercase, diacritics stripped, apostrophes joined).
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            word.push(fold(c));
        } else if matches!(c, '\'' | '’' | 'ʼ') {
            // O'Brien is one word: found as "obrien".
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn prefix(word: &str, letters: usize) -> String {
    word.chars().take(letters).collect()
}

fn name_term(prefix: &str) -> String {
    format!("name:{prefix}")
}

fn phone_term(digits: &str) -> String {
    let tail = &digits[digits.len().saturating_sub(PHONE_TAIL)..];
    format!("phone:{tail}")
}

fn birth_term(date: Date) -> String {
    format!("dob:{date}")
}

/// The terms a patient's record is indexed under (before the blind index hides them).
pub fn record_terms(name: &str, phone: &str, date_of_birth: Date) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    for word in name_words(name).iter().take(MAX_NAME_WORDS) {
        let letters = word.chars().count();
        for n in MIN_PREFIX..=letters.min(MAX_PREFIX) {
            terms.insert(name_term(&prefix(word, n)));
        }
    }
    let phone = digits(phone);
    if phone.len() >= PHONE_TAIL {
        terms.insert(phone_term(&phone));
    }
    terms.insert(birth_term(date_of_birth));
    terms
}

/// Whether typed digits name a record's number: the record ends with them, or (a country code
/// typed before a number stored without one) they end with the whole record.
fn same_number(typed: &str, record: &str) -> bool {
    record.ends_with(typed) || (record.len() >= PHONE_TAIL && typed.ends_with(record))
}

/// A typed query, split into what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientQuery {
    /// Name words of at least [`MIN_PREFIX`] letters; shorter ones are checked, not looked up.
    words: Vec<String>,
    short_words: Vec<String>,
    phones: Vec<String>,
    births: Vec<Date>,
}

impl PatientQuery {
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        if text.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        let mut query = PatientQuery {
            words: Vec::new(),
            short_words: Vec::new(),
            phones: Vec::new(),
            births: Vec::new(),
        };
        // Whitespace separates terms; a term that reads as a date or a phone number is one.
        for part in text.split_whitespace() {
            if let Ok(date) = part.parse::<Date>() {
                query.births.push(date);
                continue;
            }
            if other_date_form(part) {
                return Err(QueryError::DateFormat);
            }
            let typed_digits = digits(part);
            let phone_like = part
                .chars()
                .all(|c| c.is_ascii_digit() || "+-().".contains(c));
            if phone_like && !typed_digits.is_empty() {
                query.phones.push(typed_digits);
                continue;
            }
            for word in name_words(part) {
                if word.chars().count() >= MIN_PREFIX {
                    query.words.push(word);
                } else {
                    query.short_words.push(word);
                }
            }
        }
        // "617 555 0100" typed with spaces is one phone number.
        if query.phones.len() > 1 {
            let joined: String = query.phones.concat();
            query.phones = vec![joined];
        }
        query
            .phones
            .retain(|p| p.len() >= PHONE_TAIL || !query.words.is_empty());
        if query.lookups().is_empty() {
            return Err(QueryError::TooShort);
        }
        if query.lookups().len() > MAX_QUERY_TERMS {
            return Err(QueryError::TooLong);
        }
        Ok(query)
    }

    /// The index terms to look up; every record found must be under all of them.
    pub fn lookups(&self) -> BTreeSet<String> {
        let words = self.words.iter().map(|w| name_term(&prefix(w, MAX_PREFIX)));
        let phones = self
            .phones
            .iter()
            .filter(|p| p.len() >= PHONE_TAIL)
            .map(|p| phone_term(p));
        let births = self.births.iter().map(|d| birth_term(*d));
        words.chain(phones).chain(births).collect()
    }

    /// Whether an opened record matches every term typed (the index narrows; this decides).
    pub fn matches(&self, name: &str, phone: &str, date_of_birth: Date) -> bool {
        let record_words = name_words(name);
        let has_word = |w: &String| record_words.iter().any(|r| r.starts_with(w.as_str()));
        let phone = digits(phone);
        self.words.iter().all(has_word)
            && self.short_words.iter().all(has_word)
            && self.phones.iter().all(|typed| same_number(typed, &phone))
            && self.births.iter().all(|d| *d == date_of_birth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    const DOB: Date = date(1985, 4, 12);

    fn found(query: &str, name: &str, phone: &str, dob: Date) -> bool {
        let q = PatientQuery::parse(query).unwrap();
        let terms = record_terms(name, phone, dob);
        q.lookups().is_subset(&terms) && q.matches(name, phone, dob)
    }

    #[test]
    fn names_are_found_by_prefixes_without_case_or_accents() {
        assert!(found("jan", "Jane Doe", "617 555 0100", DOB));
        assert!(found("JANE doe", "Jane Doe", "617 555 0100", DOB));
        assert!(found(
            "jose obrien",
            "José O'Brien-Smith",
            "617 555 0100",
            DOB
        ));
        assert!(found("smith", "José O'Brien-Smith", "617 555 0100", DOB));
        assert!(found("christopher", "Christopher Lee", "617 555 0100", DOB));
        assert!(found("Jane D", "Jane Doe", "617 555 0100", DOB));
        assert!(!found("Jane R", "Jane Doe", "617 555 0100", DOB));
        assert!(!found("janet", "Jane Doe", "617 555 0100", DOB));
        assert!(!found("doe jones", "Jane Doe", "617 555 0100", DOB));
    }

    #[test]
    fn phones_match_however_they_are_typed() {
        assert!(found("555-0100", "Jane Doe", "+1 (617) 555-0100", DOB));
        assert!(found("(617) 555 0100", "Jane Doe", "617-555-0100", DOB));
        assert!(found("+16175550100", "Jane Doe", "617 555 0100", DOB));
        assert!(!found("+1 212 555 0100", "Jane Doe", "617 555 0100", DOB));
        assert!(!found("555-0199", "Jane Doe", "617 555 0100", DOB));
    }

    #[test]
    fn a_date_of_birth_narrows_a_name() {
        assert!(found("1985-04-12", "Jane Doe", "617 555 0100", DOB));
        assert!(found("jane 1985-04-12", "Jane Doe", "617 555 0100", DOB));
        assert!(!found("jane 1985-04-13", "Jane Doe", "617 555 0100", DOB));
    }

    #[test]
    fn queries_with_nothing_to_look_up_or_too_much_are_refused() {
        assert_eq!(PatientQuery::parse(""), Err(QueryError::TooShort));
        assert_eq!(PatientQuery::parse("  jo  "), Err(QueryError::TooShort));
        assert_eq!(PatientQuery::parse("0100"), Err(QueryError::TooShort));
        assert_eq!(PatientQuery::parse("#!?"), Err(QueryError::TooShort));
        for date in ["04/12/1988", "4/12/88", "1988-4-12", "12.04.1988"] {
            assert_eq!(
                PatientQuery::parse(date),
                Err(QueryError::DateFormat),
                "{date}"
            );
        }
        assert!(
            PatientQuery::parse("617-555-0100").is_ok(),
            "a phone is not a date"
        );
        assert_eq!(
            PatientQuery::parse("anne beth carl dora emil"),
            Err(QueryError::TooLong)
        );
        assert_eq!(
            PatientQuery::parse(&"a".repeat(MAX_QUERY_CHARS + 1)),
            Err(QueryError::TooLong)
        );
    }

    #[test]
    fn records_hold_a_bounded_number_of_terms() {
        let long = "Maximiliana Alexandrina Bartholomew Konstantinos Wolfgang Amadeus";
        let terms = record_terms(long, "617 555 0100", DOB);
        assert_eq!(
            terms.len(),
            MAX_NAME_WORDS * (MAX_PREFIX - MIN_PREFIX + 1) + 2
        );
    }

    proptest! {
        #[test]
        fn every_record_is_found_by_each_of_its_words(
            first in "[A-Za-zÀ-ÖØ-öø-ÿ]{3,12}",
            last in "[A-Za-zÀ-ÖØ-öø-ÿ]{3,12}",
            phone in "[0-9]{10}",
        ) {
            let name = format!("{first} {last}");
            for q in [first.as_str(), last.as_str(), &name, &phone[3..]] {
                if let Ok(parsed) = PatientQuery::parse(q) {
                    let terms = record_terms(&name, &phone, DOB);
                    prop_assert!(parsed.lookups().is_subset(&terms), "{q}");
                    prop_assert!(parsed.matches(&name, &phone, DOB), "{q}");
                }
            }
        }

        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in "\\PC{0,120}") {
            if let Ok(q) = PatientQuery::parse(&text) {
                prop_assert!(!q.lookups().is_empty());
                prop_assert!(q.lookups().len() <= MAX_QUERY_TERMS);
            }
        }
    }
}
