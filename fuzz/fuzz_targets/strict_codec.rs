//! Arbitrary bytes through the gRPC codec the renkei services are generated with
//! (`StrictProstCodec`), driven by tonic's own request stream over an in-memory body, as a server
//! reads a request. A message that does not decode must be refused as `INVALID_ARGUMENT`
//! ("malformed message"), never accepted and never a panic; a message that decodes must be the
//! one prost reads from the same bytes.
//!
//! The first byte chooses the message type (bit 0) and whether the rest is a single payload that
//! the target frames itself (bit 1 clear) or a raw gRPC body of any framing (bit 1 set).

#![no_main]

use bytes::{BufMut, Bytes, BytesMut};
use futures_executor::block_on;
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use renkei_proto::codec::StrictProstCodec;
use renkei_proto::v1::{AppendRequest, PushFactsRequest};
use tonic::Code;
use tonic::codec::{Codec, Streaming};

const MAX_MESSAGE: usize = 64 * 1024;

fn stream<M>(body: Vec<u8>) -> Streaming<M>
where
    M: Message + Default + Send + 'static,
{
    let mut codec = StrictProstCodec::<M, M>::default();
    Streaming::new_request(
        codec.decoder(),
        Full::new(Bytes::from(body)),
        None,
        Some(MAX_MESSAGE),
    )
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::with_capacity(payload.len() + 5);
    buf.put_u8(0);
    buf.put_u32(payload.len() as u32);
    buf.put_slice(payload);
    buf.to_vec()
}

/// One framed, uncompressed message: the codec's verdict is prost's, and a refusal is the
/// sender's fault.
fn single<M>(payload: &[u8])
where
    M: Message + Default + PartialEq + Send + std::fmt::Debug + 'static,
{
    if payload.len() > MAX_MESSAGE {
        return;
    }
    let mut s = stream::<M>(frame(payload));
    let expected = M::decode(payload);
    match (block_on(s.message()), expected) {
        (Ok(Some(got)), Ok(want)) => {
            assert_eq!(got, want);
            // The stream ends after the one frame.
            assert!(matches!(block_on(s.message()), Ok(None)));
        }
        (Err(status), Err(_)) => {
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            assert!(status.message().starts_with("malformed message"), "{status:?}");
        }
        (got, want) => panic!("codec gave {got:?}, prost gave {want:?}"),
    }
}

/// Any body: frames are read until the end or the first error; whatever is refused because the
/// message itself is malformed is `INVALID_ARGUMENT`, and whatever is accepted re-encodes.
fn raw<M>(body: &[u8])
where
    M: Message + Default + PartialEq + Send + std::fmt::Debug + 'static,
{
    let mut s = stream::<M>(body.to_vec());
    // Each frame takes at least 5 bytes, so this bounds the loop.
    for _ in 0..=body.len() / 5 + 1 {
        match block_on(s.message()) {
            Ok(Some(m)) => {
                let bytes = m.encode_to_vec();
                assert_eq!(M::decode(bytes.as_slice()).unwrap(), m);
            }
            Ok(None) => return,
            Err(status) => {
                if status.message().starts_with("malformed message") {
                    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
                }
                return;
            }
        }
    }
    panic!("the stream yielded more messages than its body can hold");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match (selector & 1 == 0, selector & 2 == 0) {
        (true, true) => single::<PushFactsRequest>(rest),
        (false, true) => single::<AppendRequest>(rest),
        (true, false) => raw::<PushFactsRequest>(rest),
        (false, false) => raw::<AppendRequest>(rest),
    }
});
