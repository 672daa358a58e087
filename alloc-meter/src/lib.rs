//! A global allocator wrapper that counts, per thread, the bytes allocated
//! and freed through it, so that a sandbox running untrusted code on a thread
//! (the server's rhai engine) can stop that code once it has built too much
//! data. The interpreter's own size limits are checked on some operations
//! only (rhai 1.27 does not re-check an array after `push`, nor a map after
//! an indexed assignment), so the allocator is the one place that sees every
//! byte.
//!
//! This crate holds the server's only `unsafe` code: the two lines that
//! forward to the wrapped allocator, as every `GlobalAlloc` wrapper must.
//! The counters are plain thread-locals (no atomics, no locks, no allocation
//! inside the allocator).

use std::{
    alloc::{GlobalAlloc, Layout},
    cell::Cell,
};

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
    static FREED: Cell<u64> = const { Cell::new(0) };
}

/// Wraps the allocator `A`, counting what each thread allocates and frees.
///
/// ```text
/// #[global_allocator]
/// static ALLOCATOR: alloc_meter::Metered<mimalloc::MiMalloc> = alloc_meter::Metered(mimalloc::MiMalloc);
/// ```
pub struct Metered<A>(pub A);

fn add(counter: &'static std::thread::LocalKey<Cell<u64>>, n: usize) {
    // `try_with`: a thread being torn down may still free memory.
    let _ = counter.try_with(|c| c.set(c.get().wrapping_add(n as u64)));
}

// SAFETY: every method forwards to the wrapped allocator with the same
// arguments; the counting around it neither allocates nor touches the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Metered<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(&ALLOCATED, layout.size());
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(&ALLOCATED, layout.size());
        // SAFETY: as above.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(&FREED, layout.size());
        // SAFETY: as above.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(&ALLOCATED, new_size);
        add(&FREED, layout.size());
        // SAFETY: as above.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// What the current thread has allocated and freed so far, in bytes (zero
/// when no [`Metered`] allocator is installed). Take two readings and
/// subtract: [`Reading::since`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// Bytes allocated by this thread.
    pub allocated: u64,
    /// Bytes freed by this thread (also of memory other threads allocated).
    pub freed: u64,
}

impl Reading {
    /// The current thread's counters now.
    pub fn now() -> Self {
        Self {
            allocated: ALLOCATED.try_with(Cell::get).unwrap_or(0),
            freed: FREED.try_with(Cell::get).unwrap_or(0),
        }
    }

    /// Bytes allocated since `earlier`.
    pub fn allocated_since(&self, earlier: &Reading) -> u64 {
        self.allocated.wrapping_sub(earlier.allocated)
    }

    /// Bytes allocated and not freed since `earlier`: what this thread holds
    /// more than it did then (zero when it holds less).
    pub fn held_since(&self, earlier: &Reading) -> u64 {
        self.allocated_since(earlier)
            .saturating_sub(self.freed.wrapping_sub(earlier.freed))
    }
}

#[cfg(test)]
mod tests {
    use super::Reading;

    #[global_allocator]
    static ALLOCATOR: super::Metered<std::alloc::System> = super::Metered(std::alloc::System);

    #[test]
    fn counts_what_this_thread_holds_and_what_it_churned() {
        let start = Reading::now();
        let kept: Vec<Vec<u8>> = (0..100).map(|_| vec![1u8; 10_000]).collect();
        let mid = Reading::now();
        assert!(mid.held_since(&start) >= 1_000_000, "{:?}", mid.held_since(&start));
        drop(kept);
        let end = Reading::now();
        assert!(
            end.held_since(&start) < 10_000,
            "freed again: {}",
            end.held_since(&start)
        );
        assert!(end.allocated_since(&start) >= 1_000_000, "but allocated");
        let other = std::thread::spawn(|| {
            let start = Reading::now();
            let v = vec![0u8; 5_000_000];
            (Reading::now().held_since(&start), v.len())
        })
        .join()
        .expect("thread");
        assert!(other.0 >= 5_000_000);
        assert!(
            Reading::now().held_since(&end) < 100_000,
            "another thread's allocation is its own"
        );
    }
}
