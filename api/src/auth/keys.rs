//! Signing keys the hub makes itself: the demo key (`serve --demo` trusts it,
//! `rete token` signs with it; a production config never does) and keys that
//! tests generate. Keys are generated here, never committed.

use std::collections::HashMap;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

use super::{Claims, VerifyingKey};

pub const DEMO_ISSUER: &str = "rete-demo";
pub const DEMO_KID: &str = "rete-demo-es256";

/// A private signing key with its public half.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    /// PKCS#8 DER of the private key.
    pub pkcs8: Vec<u8>,
}

impl SigningKey {
    pub fn generate_es256(kid: &str) -> Result<SigningKey, String> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| "cannot generate an ES256 key".to_string())?;
        let der = pair
            .to_pkcs8v1()
            .map_err(|_| "cannot encode the ES256 key".to_string())?;
        Self::from_pkcs8(kid, Algorithm::ES256, der.as_ref().to_vec())
    }

    pub fn generate_rs256(kid: &str) -> Result<SigningKey, String> {
        let pair = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| "cannot generate an RS256 key".to_string())?;
        let der = pair
            .as_der()
            .map_err(|_| "cannot encode the RS256 key".to_string())?;
        Self::from_pkcs8(kid, Algorithm::RS256, der.as_ref().to_vec())
    }

    fn from_pkcs8(kid: &str, alg: Algorithm, pkcs8: Vec<u8>) -> Result<SigningKey, String> {
        let encoding = match alg {
            // jsonwebtoken signs RSA with a PKCS#1 key (`from_rsa_der` would take
            // the PKCS#8 bytes as PKCS#1 and fail on first use); its PEM reader
            // unwraps PKCS#8.
            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem_of(&pkcs8).as_bytes())
                .map_err(|e| format!("cannot use the RS256 key: {e}"))?,
            _ => EncodingKey::from_ec_der(&pkcs8),
        };
        Ok(SigningKey {
            kid: kid.to_string(),
            alg,
            encoding,
            pkcs8,
        })
    }

    /// The public half as a JWK (with kid and alg).
    pub fn public_jwk(&self) -> Result<Jwk, String> {
        let mut jwk =
            Jwk::from_encoding_key(&self.encoding, self.alg).map_err(|e| e.to_string())?;
        jwk.common.key_id = Some(self.kid.clone());
        Ok(jwk)
    }

    pub fn jwks(&self) -> Result<JwkSet, String> {
        Ok(JwkSet {
            keys: vec![self.public_jwk()?],
        })
    }

    pub fn verifying_keys(&self) -> Result<HashMap<String, VerifyingKey>, String> {
        let key = DecodingKey::from_jwk(&self.public_jwk()?).map_err(|e| e.to_string())?;
        Ok(HashMap::from([(
            self.kid.clone(),
            VerifyingKey { alg: self.alg, key },
        )]))
    }

    pub fn to_pem(&self) -> String {
        pem_of(&self.pkcs8)
    }

    /// Sign claims into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| e.to_string())
    }

    /// Claims for an operator of `agency`, valid from now for `ttl_seconds`.
    pub fn claims(
        issuer: &str,
        audience: &str,
        operator: &str,
        agency: &str,
        role: &str,
        purpose: &str,
        ttl_seconds: i64,
    ) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: issuer.to_string(),
            sub: operator.to_string(),
            aud: audience.to_string(),
            exp: now + ttl_seconds,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            agency: agency.to_string(),
            role: role.to_string(),
            purpose: purpose.to_string(),
        }
    }
}

/// Read the demo ES256 key, creating it (mode 0600) if it does not exist yet.
pub fn load_or_create_demo_key(path: &Path) -> Result<SigningKey, String> {
    if path.exists() {
        return load_demo_key(path);
    }
    let key = SigningKey::generate_es256(DEMO_KID)?;
    write_private(path, &key.to_pem())?;
    Ok(key)
}

/// Read an ES256 key of the hub's own (`kid`), creating it (mode 0600) if it
/// does not exist yet.
pub fn load_or_create_key(path: &Path, kid: &str) -> Result<SigningKey, String> {
    if !path.exists() {
        let key = SigningKey::generate_es256(kid)?;
        write_private(path, &key.to_pem())?;
        return Ok(key);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the key {} ({e})", path.display()))?;
    parse_es256(&text, path, "key", kid)
}

/// Read the demo ES256 key; a missing file is an error that says what to run.
pub fn load_demo_key(path: &Path) -> Result<SigningKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the demo key {} ({e}); run `rete serve --demo` once to create it",
            path.display()
        )
    })?;
    parse_es256(&text, path, "demo key", DEMO_KID)
}

/// A P-256 PKCS#8 private key in PEM; errors name the file and the problem.
fn parse_es256(text: &str, path: &Path, what: &str, kid: &str) -> Result<SigningKey, String> {
    if !text.contains("-----BEGIN PRIVATE KEY-----") {
        return Err(format!(
            "{what} {} is not a PEM private key (expected `-----BEGIN PRIVATE KEY-----`, PKCS#8)",
            path.display()
        ));
    }
    let b64: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("{what} {} is not PEM: {e}", path.display()))?;
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
        .map_err(|e| format!("{what} {} is not a P-256 PKCS#8 key: {e}", path.display()))?;
    SigningKey::from_pkcs8(kid, Algorithm::ES256, der)
}

/// Whether a key file an issuer is configured with is the demo key: the demo
/// key file itself, or a public key whose point is the demo key's. A demo key
/// file that does not exist or cannot be read matches nothing but its path.
pub fn is_demo_key_file(file: &Path, demo_key_file: &Path) -> bool {
    let same_path = match (file.canonicalize(), demo_key_file.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => file == demo_key_file,
    };
    if same_path {
        return true;
    }
    let Ok(demo) = load_demo_key(demo_key_file) else {
        return false;
    };
    let Ok(pair) = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &demo.pkcs8) else {
        return false;
    };
    let point = aws_lc_rs::signature::KeyPair::public_key(&pair)
        .as_ref()
        .to_vec();
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    pem_der(&text).is_some_and(|der| der.ends_with(&point))
}

/// The DER inside a PEM text (the base64 between its `-----` lines).
fn pem_der(text: &str) -> Option<Vec<u8>> {
    let b64: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// PKCS#8 DER as a `BEGIN PRIVATE KEY` PEM.
fn pem_of(pkcs8: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

pub(crate) fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Parse a TTL such as `90s`, `15m`, `1h`, `2d` (a bare number is seconds).
pub fn parse_ttl(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: i64 = num
        .parse()
        .map_err(|_| format!("invalid ttl `{s}`: expected e.g. 90s, 15m, 1h, 2d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("invalid ttl `{s}`: unit must be s, m, h or d")),
    };
    if n <= 0 {
        return Err(format!("invalid ttl `{s}`: must be positive"));
    }
    Ok(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("90"), Ok(90));
        assert_eq!(parse_ttl("2d"), Ok(172_800));
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("0m").is_err());
    }

    #[test]
    fn an_rs256_key_signs_and_publishes_its_jwk() -> Result<(), String> {
        let key = SigningKey::generate_rs256("rsa")?;
        key.public_jwk()?;
        let claims = SigningKey::claims("iss", "aud", "op", "agency", "ROLE", "PURPOSE", 60);
        let token = key.sign(&claims)?;
        let keys = key.verifying_keys()?;
        let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
        v.set_audience(&["aud"]);
        jsonwebtoken::decode::<Claims>(&token, &keys["rsa"].key, &v).map_err(|e| e.to_string())?;
        Ok(())
    }

    #[test]
    fn demo_key_round_trips_through_its_file() -> Result<(), String> {
        let dir = tempfile_dir();
        let path = dir.join("k.pem");
        let a = load_or_create_demo_key(&path)?;
        let b = load_or_create_demo_key(&path)?;
        assert_eq!(a.pkcs8, b.pkcs8);
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rete-key-{}", uuid::Uuid::new_v4().simple()));
        let _ = std::fs::create_dir_all(&d);
        d
    }
}
