//! Layer 1: the raw virtual-memory operations, a file per operation (as the `region` crate
//! does), each checking its arguments and calling the OS backend (`crate::os`). Everything
//! here is re-exported at the crate root; nothing here knows about the data structures.
//!
//! | file | what |
//! |---|---|
//! | `checks.rs` | argument checks shared by the operations: null, zero, overflow, whole pages, commit state |
//! | `page.rs` | page, granularity and huge page sizes, and rounding to pages (`page_round_up`, `page_span`) |
//! | `align.rs` | the public `align_up` / `align_down` / `is_aligned`, and `round_up` (the unchecked `align_up` of hot paths) |
//! | `reserve.rs` | `reserve`, `reserve_aligned`, `reserve_at`, `release` |
//! | `reservation.rs` | `Reservation`: an owned reservation with a record of its pages; its `LockGuard` and `ProtectGuard` |
//! | `commit.rs` | `commit`, `decommit` |
//! | `protect.rs` | `Protection`, `protect` |
//! | `lock.rs` | `lock`, `unlock` |
//! | `query.rs` | `query`, `PageState`, `RegionInfo`, and the run merging every backend uses |
//! | `advise.rs` | `prefault`, `advise_huge_pages`, `advise` and `Advice` |
//! | `status.rs` | `memory_status`, `resident_bytes`, process memory figures |

pub(crate) mod advise;
pub(crate) mod align;
pub(crate) mod checks;
pub(crate) mod commit;
pub(crate) mod lock;
pub(crate) mod page;
pub(crate) mod protect;
pub(crate) mod query;
pub(crate) mod reservation;
pub(crate) mod reserve;
pub(crate) mod status;
