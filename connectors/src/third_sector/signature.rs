//! The HMAC signature of the third-sector connector, both ways: a community
//! signs its webhooks to the hub, and the hub signs its messages to the
//! community (`docs/connectors-third-sector.md`, `docs/outbound.md`).
//!
//! `X-Rete-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{nonce}.{body}")>`,
//! with `X-Rete-Timestamp` (Unix seconds) and `X-Rete-Nonce` (16 to 128 of
//! `A-Z a-z 0-9 _ -`). The timestamp bounds how long a captured request can
//! be replayed; the nonce, remembered by the receiver for that long, makes
//! each request count once.
//!
//! Pure: no clock (the caller passes `now`), no I/O, no memory of nonces
//! (the receiver keeps those). It never puts the secret or the expected
//! signature in an error.

use aws_lc_rs::{constant_time, hmac};

/// The header holding the Unix time of signing, in seconds.
pub const TIMESTAMP_HEADER: &str = "X-Rete-Timestamp";
/// The header holding the request's nonce.
pub const NONCE_HEADER: &str = "X-Rete-Nonce";
/// The header holding `v1=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Rete-Signature";

/// The scheme prefix of a signature: a later scheme gets a new prefix, so a
/// receiver can tell which one a sender used.
const SCHEME: &str = "v1=";
const NONCE_MIN: usize = 16;
const NONCE_MAX: usize = 128;
/// Unix seconds fit in 12 digits until the year 33658.
const TIMESTAMP_MAX_DIGITS: usize = 12;

/// Why a signed request is refused. The messages name the header and the
/// problem, never the secret or the signature the receiver expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no {0} header")]
    Missing(&'static str),
    #[error("{header} is malformed: {problem}")]
    Malformed {
        header: &'static str,
        problem: &'static str,
    },
    #[error(
        "X-Rete-Nonce must be {NONCE_MIN} to {NONCE_MAX} characters of A-Z, a-z, 0-9, '_' and '-'"
    )]
    BadNonce,
    #[error("the signature does not match the body, timestamp and nonce under the shared secret")]
    BadSignature,
    #[error(
        "X-Rete-Timestamp is {skew} s {direction} the receiver's clock; at most {window} s either way is accepted"
    )]
    Stale {
        /// How far off the timestamp is, in seconds.
        skew: u64,
        /// `before` (an old request) or `after` (a clock running ahead).
        direction: &'static str,
        window: u64,
    },
}

impl SignatureError {
    /// The code an HTTP answer carries (`MISSING_SIGNATURE`, `BAD_SIGNATURE`,
    /// `STALE_TIMESTAMP`).
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing(_) => "MISSING_SIGNATURE",
            SignatureError::Malformed { .. }
            | SignatureError::BadNonce
            | SignatureError::BadSignature => "BAD_SIGNATURE",
            SignatureError::Stale { .. } => "STALE_TIMESTAMP",
        }
    }
}

/// The three signature headers of a request, as received (`None`: absent).
#[derive(Clone, Copy, Debug, Default)]
pub struct SignedHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

fn tag(secret: &[u8], timestamp: &str, nonce: &str, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(nonce.as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign()
}

/// `v1=<hex HMAC-SHA256(secret, "{timestamp}.{nonce}.{body}")>`.
pub fn sign(secret: &[u8], timestamp: i64, nonce: &str, body: &[u8]) -> String {
    let tag = tag(secret, &timestamp.to_string(), nonce, body);
    format!("{SCHEME}{}", hex::encode(tag.as_ref()))
}

/// Whether a nonce has the accepted shape (16 to 128 of `A-Z a-z 0-9 _ -`).
pub fn nonce_is_valid(nonce: &str) -> bool {
    (NONCE_MIN..=NONCE_MAX).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a signed request: every header present and well formed, the
/// signature right (compared in constant time), then the timestamp within
/// `window` seconds of `now` either way. The signature is checked before the
/// clock, so only a holder of the secret learns that its clock is off.
pub fn verify(
    secret: &[u8],
    headers: &SignedHeaders<'_>,
    body: &[u8],
    now: i64,
    window: u64,
) -> Result<(), SignatureError> {
    let timestamp = headers
        .timestamp
        .ok_or(SignatureError::Missing(TIMESTAMP_HEADER))?
        .trim();
    let nonce = headers
        .nonce
        .ok_or(SignatureError::Missing(NONCE_HEADER))?
        .trim();
    let signature = headers
        .signature
        .ok_or(SignatureError::Missing(SIGNATURE_HEADER))?
        .trim();
    // Digits only, as `sign` writes them: the signed text is the header's.
    if timestamp.is_empty()
        || timestamp.len() > TIMESTAMP_MAX_DIGITS
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(SignatureError::Malformed {
            header: TIMESTAMP_HEADER,
            problem: "it must be the Unix time in seconds (digits only)",
        });
    }
    let Ok(at) = timestamp.parse::<i64>() else {
        return Err(SignatureError::Malformed {
            header: TIMESTAMP_HEADER,
            problem: "it must be the Unix time in seconds (digits only)",
        });
    };
    if !nonce_is_valid(nonce) {
        return Err(SignatureError::BadNonce);
    }
    let Some(hex_tag) = signature.strip_prefix(SCHEME) else {
        return Err(SignatureError::Malformed {
            header: SIGNATURE_HEADER,
            problem: "it must start with `v1=`",
        });
    };
    let Ok(given) = hex::decode(hex_tag) else {
        return Err(SignatureError::Malformed {
            header: SIGNATURE_HEADER,
            problem: "after `v1=` it must be hexadecimal",
        });
    };
    let expected = tag(secret, timestamp, nonce, body);
    constant_time::verify_slices_are_equal(expected.as_ref(), &given)
        .map_err(|_| SignatureError::BadSignature)?;
    let skew = now.abs_diff(at);
    if skew > window {
        return Err(SignatureError::Stale {
            skew,
            direction: if at < now { "before" } else { "after" },
            window,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NONCE: &str = "n0nce-0123456789abcdef";
    const NOW: i64 = 1_764_324_000;

    fn headers<'a>(ts: &'a str, nonce: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            timestamp: Some(ts),
            nonce: Some(nonce),
            signature: Some(sig),
        }
    }

    fn check(ts: i64, nonce: &str, sig: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(
            SECRET,
            &headers(&ts.to_string(), nonce, sig),
            body,
            now,
            300,
        )
    }

    #[test]
    fn a_signature_is_v1_and_the_hex_hmac_of_timestamp_nonce_and_body() {
        // RFC 4231-style check against an independent computation.
        let key = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
        let expected = hmac::sign(&key, format!("{NOW}.{NONCE}.{{}}").as_bytes());
        assert_eq!(
            sign(SECRET, NOW, NONCE, b"{}"),
            format!("v1={}", hex::encode(expected.as_ref()))
        );
        assert_eq!(sign(SECRET, NOW, NONCE, b"{}").len(), 3 + 64);
    }

    #[test]
    fn the_documented_example_verifies() {
        // docs/connectors-third-sector.md, computed there with Python's hmac.
        let body = br#"{"id":"evt-0001","type":"guest.arrived","placement_id":"0192f3c5-6b2a-7d4e-8f00-000000000001","occurred_at":"2026-11-28T10:00:00+01:00"}"#;
        let secret = b"an-example-secret-of-32-bytes-or-more";
        let nonce = "3f9c2b0e8d1a4c6f9e7b5a3d2c1b0a99";
        let sig = "v1=165c8c0888502bcd5db614782fca7d0d2327b0fef9bd8ba44c63da3e13acfeed";
        assert_eq!(sign(secret, 1_764_324_000, nonce, body), sig);
        // Upper-case hex is the same signature.
        let upper = format!("v1={}", sig[3..].to_ascii_uppercase());
        let h = headers("1764324000", nonce, &upper);
        assert_eq!(verify(secret, &h, body, 1_764_324_100, 300), Ok(()));
    }

    #[test]
    fn each_missing_header_is_named() {
        let sig = sign(SECRET, NOW, NONCE, b"x");
        let ts = NOW.to_string();
        let cases = [
            (None, Some(NONCE), Some(sig.as_str()), TIMESTAMP_HEADER),
            (Some(ts.as_str()), None, Some(sig.as_str()), NONCE_HEADER),
            (Some(ts.as_str()), Some(NONCE), None, SIGNATURE_HEADER),
        ];
        for (timestamp, nonce, signature, missing) in cases {
            let h = SignedHeaders {
                timestamp,
                nonce,
                signature,
            };
            let err = verify(SECRET, &h, b"x", NOW, 300).expect_err("refused");
            assert_eq!(err, SignatureError::Missing(missing));
            assert_eq!(err.code(), "MISSING_SIGNATURE");
        }
    }

    #[test]
    fn malformed_headers_are_told_apart_from_a_wrong_signature() {
        let sig = sign(SECRET, NOW, NONCE, b"x");
        let h = |ts: &str, sig: &str| {
            verify(SECRET, &headers(ts, NONCE, sig), b"x", NOW, 300).expect_err("refused")
        };
        assert!(matches!(
            h("yesterday", &sig),
            SignatureError::Malformed {
                header: TIMESTAMP_HEADER,
                ..
            }
        ));
        assert!(matches!(
            h("-5", &sig),
            SignatureError::Malformed {
                header: TIMESTAMP_HEADER,
                ..
            }
        ));
        let ts = NOW.to_string();
        let ts = ts.as_str();
        assert!(matches!(
            h(ts, &sig.replace("v1=", "v2=")),
            SignatureError::Malformed {
                header: SIGNATURE_HEADER,
                ..
            }
        ));
        assert!(matches!(
            h(ts, "v1=not-hex"),
            SignatureError::Malformed {
                header: SIGNATURE_HEADER,
                ..
            }
        ));
        assert_eq!(h(ts, "v1=00ff"), SignatureError::BadSignature);
        assert_eq!(h(ts, "v1=00ff").code(), "BAD_SIGNATURE");
    }

    #[test]
    fn nonces_are_16_to_128_safe_characters() {
        assert!(nonce_is_valid("abcdefghijklmnop"));
        assert!(nonce_is_valid(&"a".repeat(128)));
        assert!(nonce_is_valid("A-b_c-0123456789"));
        assert!(!nonce_is_valid("abcdefghijklmno"));
        assert!(!nonce_is_valid(&"a".repeat(129)));
        assert!(!nonce_is_valid("abcdefghijklmno."));
        assert!(!nonce_is_valid("abcdefghijklmnò"));
        let bad = "short";
        let sig = sign(SECRET, NOW, bad, b"x");
        assert_eq!(
            check(NOW, bad, &sig, b"x", NOW),
            Err(SignatureError::BadNonce)
        );
    }

    #[test]
    fn a_timestamp_outside_the_window_is_stale_in_either_direction() {
        for (at, direction) in [(NOW - 301, "before"), (NOW + 301, "after")] {
            let sig = sign(SECRET, at, NONCE, b"x");
            let err = check(at, NONCE, &sig, b"x", NOW).expect_err("stale");
            assert_eq!(
                err,
                SignatureError::Stale {
                    skew: 301,
                    direction,
                    window: 300
                }
            );
            assert_eq!(err.code(), "STALE_TIMESTAMP");
        }
        for at in [NOW - 300, NOW + 300, NOW] {
            let sig = sign(SECRET, at, NONCE, b"x");
            assert_eq!(check(at, NONCE, &sig, b"x", NOW), Ok(()));
        }
    }

    #[test]
    fn a_wrong_signature_is_reported_before_a_stale_clock() {
        let sig = sign(
            b"another secret of thirty-two bytes",
            NOW - 3600,
            NONCE,
            b"x",
        );
        assert_eq!(
            check(NOW - 3600, NONCE, &sig, b"x", NOW),
            Err(SignatureError::BadSignature)
        );
    }

    fn nonce() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{16,128}"
    }

    proptest! {
        #[test]
        fn a_valid_signature_verifies(
            secret in proptest::collection::vec(any::<u8>(), 32..64),
            body in proptest::collection::vec(any::<u8>(), 0..512),
            nonce in nonce(),
            ts in 1_000_000_000i64..4_000_000_000,
            skew in -300i64..=300,
        ) {
            let sig = sign(&secret, ts, &nonce, &body);
            let h = SignedHeaders {
                timestamp: Some(&ts.to_string()),
                nonce: Some(&nonce),
                signature: Some(&sig),
            };
            prop_assert_eq!(verify(&secret, &h, &body, ts + skew, 300), Ok(()));
        }

        #[test]
        fn any_change_of_body_timestamp_nonce_or_secret_breaks_it(
            secret in proptest::collection::vec(any::<u8>(), 32..64),
            body in proptest::collection::vec(any::<u8>(), 0..512),
            nonce in nonce(),
            ts in 1_000_000_000i64..4_000_000_000,
            change in 0usize..4,
            flip in any::<u8>().prop_filter("a change", |b| *b != 0),
            at in any::<prop::sample::Index>(),
            shift in 1i64..=300,
        ) {
            let sig = sign(&secret, ts, &nonce, &body);
            let (mut secret2, mut body2, mut nonce2, mut ts2) =
                (secret.clone(), body.clone(), nonce.clone(), ts);
            match change {
                0 => {
                    if body2.is_empty() {
                        body2.push(flip);
                    } else {
                        let i = at.index(body2.len());
                        body2[i] ^= flip;
                    }
                }
                1 => ts2 += shift,
                2 => {
                    let i = at.index(nonce2.len());
                    let c = nonce2.as_bytes()[i];
                    let other = if c == b'a' { 'b' } else { 'a' };
                    nonce2.replace_range(i..=i, &other.to_string());
                }
                _ => {
                    let i = at.index(secret2.len());
                    secret2[i] ^= flip;
                }
            }
            let h = SignedHeaders {
                timestamp: Some(&ts2.to_string()),
                nonce: Some(&nonce2),
                signature: Some(&sig),
            };
            prop_assert_eq!(
                verify(&secret2, &h, &body2, ts2, 300),
                Err(SignatureError::BadSignature)
            );
        }
    }
}
