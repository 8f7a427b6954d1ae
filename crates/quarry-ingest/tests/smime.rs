//! S/MIME objects made with OpenSSL (`tests/data/smime/README.md`): the signed entity comes out
//! byte for byte as `openssl cms -verify` gives it, from definite and indefinite (BER)
//! encodings; enveloped data is encrypted.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use quarry_ingest::smime::{Cms, is_cms, parse};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/smime").join(name),
    )
    .unwrap()
}

#[test]
fn openssl_signed_and_encrypted_messages() {
    let entity = data("entity.txt");
    for name in ["signed.p7m", "signed-ber.p7m"] {
        let bytes = data(name);
        assert!(is_cms(&bytes), "{name}");
        assert_eq!(parse(&bytes).unwrap(), Cms::Signed(Some(entity.clone())), "{name}");
    }
    let encrypted = data("enc.p7m");
    assert!(is_cms(&encrypted));
    assert_eq!(parse(&encrypted).unwrap(), Cms::Encrypted);
    assert!(!is_cms(&entity));
}
