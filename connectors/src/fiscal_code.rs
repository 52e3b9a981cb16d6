//! The Italian codice fiscale of a person: its shape, its check character, and
//! the birth date and sex it encodes (DM 23/12/1976, with the *omocodia*
//! substitutions of the Agenzia delle Entrate).
//!
//! A plain function over a string, no tables of names or municipalities: the
//! three letters of the surname and of the name are not checked against a
//! person's names (foreign names, double surnames and transliterations make
//! that check refuse real codes), and the Belfiore code of the birthplace is
//! checked for shape only.
//!
//! The crates found on crates.io (`codice_fiscale`, `codice_fiscale_rs`) are
//! unmaintained or, by their own README, handle omocodia incompletely; the
//! algorithm is small and fixed by law, so it lives here with its tests.
//!
//! Errors never quote the code itself: it is personal data.

use chrono::{Datelike, NaiveDate};
use entities::enums::Sex;

/// A codice fiscale that has the right shape and check character, upper case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FiscalCode(String);

/// Why a string is not a codice fiscale.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FiscalCodeError {
    #[error("has {0} characters, not 16")]
    Length(usize),
    /// 1-based position of the first character out of place, and what belongs there.
    #[error("character {position} should be {expected}")]
    Shape {
        position: usize,
        expected: &'static str,
    },
    #[error("encodes no valid birth day")]
    Day,
    #[error("has a wrong check character (the 16th)")]
    CheckCharacter,
}

/// The month letters, January to December.
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";
/// The letters that stand for the digits 0..9 in an omocode.
const OMOCODE: &[u8; 10] = b"LMNPQRSTUV";
/// Values of the characters at odd positions (1st, 3rd, ... 15th): digits
/// 0..9, then letters A..Z.
const ODD: [u8; 36] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, // 0-9
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
    23, // A-Z
];

/// What each of the 15 characters before the check character may be.
#[derive(Clone, Copy)]
enum Slot {
    Letter,
    /// A digit, or its omocode letter.
    Digit,
    Month,
}

const LAYOUT: [Slot; 15] = {
    use Slot::*;
    [
        Letter, Letter, Letter, // surname
        Letter, Letter, Letter, // name
        Digit, Digit, // year
        Month, // month
        Digit, Digit, // day (+40 for women)
        Letter, Digit, Digit, Digit, // Belfiore code of the birthplace
    ]
};

impl FiscalCode {
    /// Reads a codice fiscale: surrounding spaces are dropped and letters
    /// upper-cased; anything else must be exactly right.
    pub fn parse(text: &str) -> Result<FiscalCode, FiscalCodeError> {
        let code = text.trim().to_ascii_uppercase();
        let bytes = code.as_bytes();
        let chars = code.chars().count();
        if chars != 16 || bytes.len() != 16 {
            return Err(FiscalCodeError::Length(chars));
        }
        for (i, (slot, &b)) in LAYOUT.iter().zip(bytes).enumerate() {
            let (ok, expected) = match slot {
                Slot::Letter => (b.is_ascii_uppercase(), "a letter"),
                Slot::Digit => (
                    b.is_ascii_digit() || OMOCODE.contains(&b),
                    "a digit (or its omocode letter)",
                ),
                Slot::Month => (MONTHS.contains(&b), "a month letter (ABCDEHLMPRST)"),
            };
            if !ok {
                return Err(FiscalCodeError::Shape {
                    position: i + 1,
                    expected,
                });
            }
        }
        if !bytes[15].is_ascii_uppercase() {
            return Err(FiscalCodeError::Shape {
                position: 16,
                expected: "a letter",
            });
        }
        let fc = FiscalCode(code);
        let (_, month, day, _) = fc.birth_parts();
        let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][usize::from(month) - 1];
        if day == 0 || day > longest {
            return Err(FiscalCodeError::Day);
        }
        if check_character(&fc.0.as_bytes()[..15]) != fc.0.as_bytes()[15] {
            return Err(FiscalCodeError::CheckCharacter);
        }
        Ok(fc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The sex the code encodes (women have 40 added to the birth day).
    pub fn sex(&self) -> Sex {
        self.birth_parts().3
    }

    /// Whether `date` is the birth date the code encodes (the year by its
    /// last two digits, as the code holds no century).
    pub fn is_born_on(&self, date: NaiveDate) -> bool {
        let (yy, month, day, _) = self.birth_parts();
        date.year().rem_euclid(100) == i32::from(yy)
            && date.month() == u32::from(month)
            && date.day() == u32::from(day)
    }

    /// (year % 100, month 1..=12, day 1..=31, sex), read through omocode
    /// letters. Only called on a code whose shape was checked.
    fn birth_parts(&self) -> (u8, u8, u8, Sex) {
        let b = self.0.as_bytes();
        let two = |i: usize| digit(b[i]) * 10 + digit(b[i + 1]);
        let month = MONTHS.iter().position(|&m| m == b[8]).unwrap_or(0) as u8 + 1;
        let raw_day = two(9);
        let (day, sex) = if raw_day > 40 {
            (raw_day - 40, Sex::Female)
        } else {
            (raw_day, Sex::Male)
        };
        (two(6), month, day, sex)
    }
}

impl std::fmt::Display for FiscalCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The value of a digit or of its omocode letter.
fn digit(b: u8) -> u8 {
    if b.is_ascii_digit() {
        b - b'0'
    } else {
        OMOCODE.iter().position(|&o| o == b).unwrap_or(0) as u8
    }
}

/// The check character of the first 15 characters (upper-case ASCII letters
/// and digits): characters at odd positions count by [`ODD`], those at even
/// positions by their own value (digits 0..9, A..Z 0..25); the sum modulo 26
/// is the letter.
pub fn check_character(first15: &[u8]) -> u8 {
    let sum: u32 = first15
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let index = if b.is_ascii_digit() {
                usize::from(b - b'0')
            } else {
                usize::from(b.wrapping_sub(b'A')) % 26 + 10
            };
            if i % 2 == 0 {
                u32::from(ODD[index])
            } else {
                (if index < 10 { index } else { index - 10 }) as u32
            }
        })
        .sum();
    b'A' + (sum % 26) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    #[test]
    fn the_textbook_code_is_valid_and_encodes_its_birth() {
        // Mario Rossi, born in Rome... the example of every manual.
        let fc = FiscalCode::parse("rssmra85t10a562s ").expect("valid");
        assert_eq!(fc.as_str(), "RSSMRA85T10A562S");
        assert_eq!(fc.sex(), Sex::Male);
        assert!(fc.is_born_on(date(1985, 12, 10)));
        assert!(!fc.is_born_on(date(1985, 12, 11)));
    }

    #[test]
    fn a_womans_day_has_forty_added() {
        // DEMO GIULIA, 14 March 1990, Torino (L219).
        let s = b"DMEGLI90C54L219";
        let code = format!(
            "{}{}",
            std::str::from_utf8(s).unwrap_or(""),
            check_character(s) as char
        );
        let fc = FiscalCode::parse(&code).expect("valid");
        assert_eq!(fc.sex(), Sex::Female);
        assert!(fc.is_born_on(date(1990, 3, 14)));
    }

    #[test]
    fn a_wrong_check_character_is_named() {
        assert_eq!(
            FiscalCode::parse("RSSMRA85T10A562T"),
            Err(FiscalCodeError::CheckCharacter)
        );
    }

    #[test]
    fn an_omocode_reads_its_letters_as_digits() {
        // RSSMRA85T10A562S with its last digits substituted (2 -> N, 6 -> S).
        let first = b"RSSMRA85T10A5SN";
        let code = format!(
            "{}{}",
            std::str::from_utf8(first).unwrap_or(""),
            check_character(first) as char
        );
        let fc = FiscalCode::parse(&code).expect("an omocode is valid");
        assert!(fc.is_born_on(date(1985, 12, 10)));
        // The year and day digits can be substituted too (8 -> U, 1 -> M).
        let first = b"RSSMRAU5TM0A562";
        let code = format!(
            "{}{}",
            std::str::from_utf8(first).unwrap_or(""),
            check_character(first) as char
        );
        assert!(FiscalCode::parse(&code).is_ok_and(|fc| fc.is_born_on(date(1985, 12, 10))));
    }

    #[test]
    fn shape_errors_name_the_position_never_the_code() {
        assert_eq!(
            FiscalCode::parse("RSSMRA85T10"),
            Err(FiscalCodeError::Length(11))
        );
        assert_eq!(
            FiscalCode::parse("RSSMRA85T10A562SX"),
            Err(FiscalCodeError::Length(17))
        );
        let e = FiscalCode::parse("RSSMRA85Z10A562S").err();
        assert_eq!(
            e,
            Some(FiscalCodeError::Shape {
                position: 9,
                expected: "a month letter (ABCDEHLMPRST)"
            })
        );
        assert!(e.is_some_and(|e| !e.to_string().contains("RSS")));
        assert!(matches!(
            FiscalCode::parse("RSS1RA85T10A562S"),
            Err(FiscalCodeError::Shape { position: 4, .. })
        ));
        assert!(matches!(
            FiscalCode::parse("RSSMRA85T10A56AS"),
            Err(FiscalCodeError::Shape { position: 15, .. })
        ));
        // Sixteen characters, but not ASCII.
        assert!(matches!(
            FiscalCode::parse("RSSMRA85T10A562È"),
            Err(FiscalCodeError::Length(16))
        ));
    }

    #[test]
    fn impossible_days_are_refused() {
        for first in [
            &b"RSSMRA85B30A562"[..],
            b"RSSMRA85T00A562",
            b"RSSMRA85T72A562",
            b"RSSMRA85D31A562",
        ] {
            let code = format!(
                "{}{}",
                std::str::from_utf8(first).unwrap_or(""),
                check_character(first) as char
            );
            assert_eq!(
                FiscalCode::parse(&code),
                Err(FiscalCodeError::Day),
                "{code}"
            );
        }
    }
}
