//! The wire protocol decoders (`twinio_kv::protocol`) on untrusted bytes.
//!
//! - Raw bytes, read as a stream of requests and as a stream of responses:
//!   the decoders never panic, every frame they accept is exactly what the
//!   encoder writes for the decoded value (so no two byte strings mean the
//!   same thing), and every proper prefix of an accepted frame is
//!   `Incomplete` (a reader never acts on half a frame).
//! - Fuzzer-chosen messages, encoded back to back: decoding the stream gives
//!   them back in order, and a stream cut anywhere gives the whole frames
//!   before the cut, then `Incomplete`.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use twinio_kv::protocol::{
    Decoded, ErrorCode, MAX_BODY, ProtocolError, Request, Response, decode_request,
    decode_response, encode_request, encode_response,
};

#[derive(Arbitrary, Debug)]
enum Messages {
    Requests { messages: Vec<ArbRequest>, cut: u16 },
    Responses { messages: Vec<ArbResponse>, cut: u16 },
}

#[derive(Arbitrary, Debug)]
enum ArbRequest {
    Put { id: u64, key: Vec<u8>, value: Vec<u8> },
    Get { id: u64, key: Vec<u8> },
    Delete { id: u64, key: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
enum ArbResponse {
    Ok { id: u64 },
    Value { id: u64, value: Vec<u8> },
    NotFound { id: u64 },
    Error { id: u64, code: u8 },
}

impl From<ArbRequest> for Request {
    fn from(request: ArbRequest) -> Request {
        match request {
            ArbRequest::Put { id, key, value } => Request::Put { id, key, value },
            ArbRequest::Get { id, key } => Request::Get { id, key },
            ArbRequest::Delete { id, key } => Request::Delete { id, key },
        }
    }
}

impl From<ArbResponse> for Response {
    fn from(response: ArbResponse) -> Response {
        match response {
            ArbResponse::Ok { id } => Response::Ok { id },
            ArbResponse::Value { id, value } => Response::Value { id, value },
            ArbResponse::NotFound { id } => Response::NotFound { id },
            ArbResponse::Error { id, code } => {
                let codes = [
                    ErrorCode::Full,
                    ErrorCode::Corrupt,
                    ErrorCode::Unavailable,
                    ErrorCode::BadRequest,
                ];
                Response::Error { id, code: codes[usize::from(code) % codes.len()] }
            }
        }
    }
}

type Decoder<T> = fn(&[u8]) -> Result<Decoded<T>, ProtocolError>;
type Encoder<T> = fn(&T, &mut Vec<u8>) -> Result<(), ProtocolError>;

/// Decodes frames from `bytes` until it runs out or hits an error, checking
/// each accepted frame re-encodes to the same bytes and that its prefixes
/// are incomplete.
fn stream<T: std::fmt::Debug + PartialEq>(bytes: &[u8], decode: Decoder<T>, encode: Encoder<T>) {
    let mut at = 0;
    while let Ok(Decoded::Frame(message, used)) = decode(&bytes[at..]) {
        assert!((13..=4 + MAX_BODY).contains(&used), "frame of {used} bytes");
        let frame = &bytes[at..at + used];
        let mut again = Vec::new();
        encode(&message, &mut again).expect("a decoded message re-encodes");
        assert!(again == frame, "non-canonical frame for {message:?}");
        for cut in [0, 1, 3, 4, used / 2, used - 1] {
            assert_eq!(decode(&frame[..cut]), Ok(Decoded::Incomplete), "prefix {cut} of {used}");
        }
        at += used;
    }
}

/// Encodes `messages` back to back (skipping those the encoder refuses,
/// which must leave the output untouched), then decodes them all back, and
/// a prefix of the stream cut at `cut`.
fn round_trip<T: std::fmt::Debug + PartialEq + Clone>(
    messages: Vec<T>,
    cut: u16,
    decode: Decoder<T>,
    encode: Encoder<T>,
) {
    let mut wire = Vec::new();
    let mut ends = Vec::new();
    let mut sent = Vec::new();
    for message in messages {
        let before = wire.len();
        match encode(&message, &mut wire) {
            Ok(()) => {
                ends.push(wire.len());
                sent.push(message);
            }
            Err(_) => assert_eq!(wire.len(), before, "a refused message left bytes behind"),
        }
    }
    let mut at = 0;
    for (message, &end) in sent.iter().zip(&ends) {
        assert_eq!(decode(&wire[at..]), Ok(Decoded::Frame(message.clone(), end - at)));
        at = end;
    }
    assert_eq!(decode(&wire[at..]), Ok(Decoded::Incomplete));

    let cut = usize::from(cut) % (wire.len() + 1);
    let whole = ends.iter().filter(|&&end| end <= cut).count();
    let mut at = 0;
    for (message, &end) in sent.iter().zip(&ends).take(whole) {
        assert_eq!(decode(&wire[at..cut]), Ok(Decoded::Frame(message.clone(), end - at)));
        at = end;
    }
    assert_eq!(decode(&wire[at..cut]), Ok(Decoded::Incomplete));
}

// The first byte picks raw bytes (passed on as they are, so the mutator
// works on the wire format itself) or structured messages.
fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    if mode % 2 == 0 {
        stream(bytes, decode_request, encode_request);
        stream(bytes, decode_response, encode_response);
        return;
    }
    let Ok(messages) = Messages::arbitrary(&mut Unstructured::new(bytes)) else { return };
    match messages {
        Messages::Requests { messages, cut } => round_trip(
            messages.into_iter().map(Request::from).collect(),
            cut,
            decode_request,
            encode_request,
        ),
        Messages::Responses { messages, cut } => round_trip(
            messages.into_iter().map(Response::from).collect(),
            cut,
            decode_response,
            encode_response,
        ),
    }
});
