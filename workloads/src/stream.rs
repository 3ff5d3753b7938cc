//! Streaming messages through a byte ring kept nearly full, so that reads and writes wrap
//! around its end all the time, as in a real stream: the producer writes one message, the
//! consumer takes it out. A consumer that needs each message as one contiguous slice (a
//! parser, a hash, a `write` system call) gets it in place from the double-mapped
//! `RingBuffer`; the others must copy it out of their two halves first.

use std::collections::VecDeque;

/// What the consumer does with each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// Copies the message out (`pop_slice`, `drain`): no contiguity needed.
    Copy,
    /// A fast pass over every byte, as a parser scanning for delimiters does (vectorized):
    /// counts newlines.
    Scan,
    /// A slow pass: a serial checksum whose own cost dominates the copies.
    Hash,
}

impl Reader {
    /// Every reader, in the benches' order.
    pub const ALL: [Reader; 3] = [Reader::Copy, Reader::Scan, Reader::Hash];

    /// A short name: `copy`, `scan`, `hash`.
    ///
    /// ```
    /// assert_eq!(vmem_workloads::stream::Reader::Scan.name(), "scan");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Reader::Copy => "copy",
            Reader::Scan => "scan",
            Reader::Hash => "hash",
        }
    }

    /// Whether this reader needs the message as one slice.
    pub fn contiguous(self) -> bool {
        self != Reader::Copy
    }

    /// The reader's work on one contiguous message.
    ///
    /// ```
    /// use vmem_workloads::stream::Reader;
    /// assert_eq!(Reader::Scan.consume(b"a\nb\n"), 2);
    /// assert_eq!(Reader::Copy.consume(b"a\nb\n"), 0);
    /// ```
    pub fn consume(self, bytes: &[u8]) -> u64 {
        match self {
            Reader::Copy => 0,
            Reader::Scan => {
                bytes.chunks(128).map(|c| u64::from(c.iter().map(|&b| u8::from(b == b'\n')).sum::<u8>())).sum()
            }
            Reader::Hash => bytes.chunks_exact(8).fold(0u64, |acc, w| {
                let mut word = [0u8; 8];
                word.copy_from_slice(w);
                acc.rotate_left(5) ^ u64::from_le_bytes(word)
            }),
        }
    }
}

/// Fills `ring` to all but `message_len` bytes, the state every stream starts from.
pub fn prime_ring(ring: &mut vmem::RingBuffer, message_len: usize) {
    let backlog = vec![0u8; ring.capacity() - message_len];
    ring.push_slice(&backlog);
}

/// Fills `deque` (of capacity `capacity`) to all but `message_len` bytes.
pub fn prime_deque(deque: &mut VecDeque<u8>, capacity: usize, message_len: usize) {
    deque.extend(std::iter::repeat_n(0u8, capacity - message_len));
}

/// One message through the ring: write it, let `reader` consume it in place and free it, or,
/// for [`Reader::Copy`], copy it out into `out` (which holds a message). Returns the
/// reader's result.
#[inline]
pub fn through_ring(ring: &mut vmem::RingBuffer, message: &[u8], out: &mut [u8], reader: Reader) -> u64 {
    ring.push_slice(message);
    let n = message.len();
    if reader.contiguous() {
        let result = reader.consume(&ring.readable()[..n]);
        // The message was just written: it is there to free.
        let _ = ring.advance_read(n);
        result
    } else {
        ring.pop_slice(&mut out[..n]);
        0
    }
}

/// One message through a `VecDeque`: write it, copy it out of the two halves into `out`
/// (which holds a message), free it, and let `reader` consume the copy.
#[inline]
pub fn through_deque(deque: &mut VecDeque<u8>, message: &[u8], out: &mut [u8], reader: Reader) -> u64 {
    let n = message.len();
    deque.extend(message.iter());
    let (front, back) = deque.as_slices();
    let split = front.len().min(n);
    out[..split].copy_from_slice(&front[..split]);
    out[split..n].copy_from_slice(&back[..n - split]);
    deque.drain(..n);
    if reader.contiguous() {
        reader.consume(&out[..n])
    } else {
        0
    }
}

/// One message through `ringbuf`'s split `HeapRb`: write it, pop it into `out`, let `reader`
/// consume the copy.
#[cfg(feature = "ringbuf")]
#[inline]
pub fn through_ringbuf<P, C>(producer: &mut P, consumer: &mut C, message: &[u8], out: &mut [u8], reader: Reader) -> u64
where
    P: ringbuf::traits::Producer<Item = u8>,
    C: ringbuf::traits::Consumer<Item = u8>,
{
    producer.push_slice(message);
    consumer.pop_slice(&mut out[..message.len()]);
    if reader.contiguous() {
        reader.consume(&out[..message.len()])
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_sees_the_same_bytes() {
        let message: Vec<u8> = (0..1536).map(|i| if i % 7 == 0 { b'\n' } else { i as u8 }).collect();
        let mut ring = vmem::RingBuffer::with_capacity(64 << 10).unwrap();
        prime_ring(&mut ring, message.len());
        let mut deque = VecDeque::with_capacity(ring.capacity());
        prime_deque(&mut deque, ring.capacity(), message.len());
        let mut out = vec![0u8; message.len()];
        for reader in [Reader::Scan, Reader::Hash] {
            for _ in 0..100 {
                // The backlog is zeros: after it drains, both see the message.
                let a = through_ring(&mut ring, &message, &mut out, reader);
                let b = through_deque(&mut deque, &message, &mut out, reader);
                assert_eq!(a, b);
            }
        }
    }
}
