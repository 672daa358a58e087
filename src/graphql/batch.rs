//! Deterministic dataloader batching.
//!
//! async-graphql's `DataLoader` gathers keys for a fixed delay and then runs
//! the batch on a spawned task. On a multi-threaded runtime that is a race:
//! a slow poll pass, or results of the previous batch still being delivered
//! on another thread, split one level of a query into several batches, and a
//! page of 100 suddenly costs more statements than a page of 10.
//!
//! Instead, the request's load futures run inside the request's own task, in
//! waves: a wave starts only when the request is quiescent (its future
//! returned `Pending` without waking itself, so every key it can register is
//! registered) and when the previous wave has finished entirely. Keys that
//! arrive while a wave runs join the next one. The number of statements then
//! depends on the shape of the query, not on its size or on timing: the
//! "next tick" batching of the original JavaScript DataLoader, without any
//! timer.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
};

use futures_util::{StreamExt, future::BoxFuture, stream::FuturesUnordered};

/// Where a request's `DataLoader` puts its batch futures (its "spawner").
#[derive(Clone, Default)]
pub struct LoadQueue(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

impl LoadQueue {
    /// Queues a batch; it runs once the request is quiescent.
    pub fn spawn(&self, fut: BoxFuture<'static, ()>) {
        if let Ok(mut queue) = self.0.lock() {
            queue.push(fut);
        }
    }

    fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        self.0.lock().map(|mut q| std::mem::take(&mut *q)).unwrap_or_default()
    }

    /// Runs `fut` (the request) together with the batches it queues.
    pub fn run<F: Future + Send>(&self, fut: F) -> impl Future<Output = F::Output> + Send {
        Driver {
            request: Box::pin(fut),
            loads: FuturesUnordered::new(),
            next: Vec::new(),
            queue: self.clone(),
            flag: Arc::new(Flag {
                woken: AtomicBool::new(false),
                outer: Mutex::new(None),
            }),
        }
    }
}

/// Records whether anything woke the request while it was being polled.
struct Flag {
    woken: AtomicBool,
    outer: Mutex<Option<Waker>>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        if let Ok(outer) = self.outer.lock()
            && let Some(waker) = outer.as_ref()
        {
            waker.wake_by_ref();
        }
    }
}

struct Driver<F: Future> {
    request: Pin<Box<F>>,
    /// The running wave.
    loads: FuturesUnordered<BoxFuture<'static, ()>>,
    /// Batches queued for the next wave.
    next: Vec<BoxFuture<'static, ()>>,
    queue: LoadQueue,
    flag: Arc<Flag>,
}

/// Rounds of "the request woke itself" before yielding to the runtime, so a
/// future that always self-wakes (cooperative budget) cannot spin forever.
const MAX_ROUNDS: usize = 64;

impl<F: Future> Future for Driver<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if let Ok(mut outer) = this.flag.outer.lock() {
            match outer.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *outer = Some(cx.waker().clone()),
            }
        }
        let waker = Waker::from(this.flag.clone());
        let mut inner = Context::from_waker(&waker);
        for _ in 0..MAX_ROUNDS {
            this.flag.woken.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = this.request.as_mut().poll(&mut inner) {
                return Poll::Ready(out);
            }
            this.next.extend(this.queue.take());
            if this.flag.woken.load(Ordering::SeqCst) {
                continue; // the request has more to register first
            }
            if this.loads.is_empty() {
                this.loads.extend(this.next.drain(..));
            }
            if this.loads.is_empty() {
                return Poll::Pending; // waiting on something else (a direct query)
            }
            while let Poll::Ready(Some(())) = this.loads.poll_next_unpin(&mut inner) {}
            let wave_done_with_more = this.loads.is_empty() && !this.next.is_empty();
            if !this.flag.woken.load(Ordering::SeqCst) && !wave_done_with_more {
                return Poll::Pending; // waiting on the database
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<F: Future> Unpin for Driver<F> {}
