//! The workloads that both the criterion benches (`benches/`) and `vmem bench` (`cli/`)
//! measure, defined once, so that the tool's numbers and the benches' numbers are about the
//! same code. Each function runs one unit of a workload on one structure; the callers time
//! them, interleave the variants and compute the ratios.
//!
//! ```
//! let mut ring = vmem::RingBuffer::with_capacity(64 << 10).unwrap();
//! let message = vec![b'\n'; 1536];
//! let mut out = vec![0; 1536];
//! let lines = vmem_workloads::stream::through_ring(&mut ring, &message, &mut out, vmem_workloads::stream::Reader::Scan);
//! assert_eq!(lines, 1536);
//! ```

pub mod fill;
pub mod stream;
