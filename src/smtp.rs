//! The Amazon SES SMTP password that AWS derives from a secret access key, so that a secret rotated
//! for an SES sender also carries credentials an SMTP client can use (AWS documents the algorithm:
//! an HMAC-SHA256 chain over a fixed date, the region, "ses", "aws4_request" and "SendRawEmail",
//! prefixed with the version byte 4, in base64).

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

const DATE: &str = "11111111";
const SERVICE: &str = "ses";
const TERMINAL: &str = "aws4_request";
const MESSAGE: &str = "SendRawEmail";
const VERSION: u8 = 0x04;

fn sign(key: &[u8], message: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The SMTP password for `secret_access_key` in SES `region` (the SMTP user name is the key id).
pub fn smtp_password(secret_access_key: &SecretString, region: &str) -> SecretString {
    let mut signature = sign(
        format!("AWS4{}", secret_access_key.expose_secret()).as_bytes(),
        DATE,
    );
    for part in [region, SERVICE, TERMINAL, MESSAGE] {
        signature = sign(&signature, part);
    }
    let mut versioned = vec![VERSION];
    versioned.extend(signature);
    SecretString::from(base64::engine::general_purpose::STANDARD.encode(versioned))
}
