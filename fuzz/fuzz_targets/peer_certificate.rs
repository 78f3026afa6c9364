//! Arbitrary bytes as the DER certificate a peer presents over TLS: reading the renkei names
//! (`urn:renkei:municipality:…`, `urn:renkei:replica:…`) never panics, and what it reads is
//! valid: municipality codes pass the code's own validation, a replica names a prefecture.

#![no_main]

use libfuzzer_sys::fuzz_target;
use renkei_proto::MunicipalityCode;
use renkei_proto::tls::PeerNames;

fuzz_target!(|data: &[u8]| {
    if let Ok(names) = PeerNames::of_der(data) {
        for m in &names.municipalities {
            assert_eq!(m.to_string().parse::<MunicipalityCode>(), Ok(*m));
        }
        if let Some((p, _)) = names.replica {
            assert!((1..=47).contains(&p.get()));
        }
    }
});
