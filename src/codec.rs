//! The protobuf codec of Luotsi's services: prost's, except that a message that does not decode
//! (malformed protobuf, a string field that is not UTF-8) is INVALID_ARGUMENT, not INTERNAL.
//! The request was the client's mistake; counted as a server fault it would page someone and
//! hide real faults. (The gRPC status-code guide lists a request that does not parse under
//! INTERNAL; we side with what the code means to the caller, as the Google API guide does.)
//!
//! It is the codec, not a layer rewriting statuses after the fact, because only the decoder
//! knows that the bytes were the problem: a layer would have to recognise prost's message text.
//! The generated clients use the same codec, so a client reading a malformed answer sees
//! INVALID_ARGUMENT too; only Luotsi's own command-line clients and tests use them.

use std::marker::PhantomData;

use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Named in `build.rs` as the codec of every generated service and client.
#[derive(Debug, Clone, Copy)]
pub struct LuotsiCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for LuotsiCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for LuotsiCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = RequestDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RequestDecoder(ProstCodec::<T, U>::default().decoder())
    }
}

/// prost's decoder, with a decode failure answered as the caller's fault.
#[derive(Debug)]
pub struct RequestDecoder<U>(ProstDecoder<U>);

impl<U: prost::Message + Default> Decoder for RequestDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|e| {
            // prost names the message and field, never the bytes.
            Status::invalid_argument(format!(
                "not a valid protobuf message: {}",
                e.message().chars().take(300).collect::<String>()
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
