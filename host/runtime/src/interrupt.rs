//! Ctrl-C for a running guest, as python3 takes it: the first interrupt is
//! raised in the guest as `KeyboardInterrupt` at its next safe point (its
//! next position report, or as soon as a blocking host call it is in —
//! a sleep, a wait, a read of stdin — returns early for it); another one
//! while that is still on its way, or within [`STOP_AFTER`] of it, stops the
//! run at once, as a time limit would, and what was recorded is kept.
//!
//! A guest learns of an interrupt by asking (`control.interrupted`): the
//! answer is logged as an input at the guest's position, so that a
//! re-execution raises it at the same place.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// How soon after an interrupt another one stops the run instead of
/// raising again.
pub const STOP_AFTER: Duration = Duration::from_secs(2);

/// The interrupts of one run, shared between whoever receives them (the
/// CLI's signal handler) and the guest's store.
#[derive(Clone, Debug, Default)]
pub struct Interrupts {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: AtomicU8,
    /// When the last interrupt reached the guest.
    delivered_at: Mutex<Option<Instant>>,
    changed: tokio::sync::Notify,
}

/// No interrupt is on its way.
const IDLE: u8 = 0;
/// An interrupt waits for the guest to take it.
const PENDING: u8 = 1;
/// The run is to stop at once.
const STOP: u8 = 2;

/// What a host call waiting on the guest's behalf is to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Return early: the guest has an interrupt to take.
    Pending,
    /// Stop the guest.
    Stop,
}

impl Interrupts {
    pub fn new() -> Interrupts {
        Interrupts::default()
    }

    /// The user interrupted the run (Ctrl-C). Returns whether it stops the
    /// run at once rather than raising `KeyboardInterrupt` in the guest.
    pub fn interrupt(&self) -> bool {
        let shared = &self.shared;
        let recent = shared
            .delivered_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < STOP_AFTER);
        let stop = match shared.state.load(Ordering::SeqCst) {
            IDLE if !recent => {
                shared.state.store(PENDING, Ordering::SeqCst);
                false
            }
            _ => {
                shared.state.store(STOP, Ordering::SeqCst);
                true
            }
        };
        shared.changed.notify_waiters();
        stop
    }

    /// Whether the run is to stop at once.
    pub fn stopping(&self) -> bool {
        self.shared.state.load(Ordering::SeqCst) == STOP
    }

    /// Takes the interrupt waiting for the guest, if there is one.
    pub(crate) fn take(&self) -> bool {
        let taken = self
            .shared
            .state
            .compare_exchange(PENDING, IDLE, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if taken {
            *self
                .shared
                .delivered_at
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        taken
    }

    /// What a wait is to do, if anything, now.
    pub(crate) fn wake(&self) -> Option<Wake> {
        match self.shared.state.load(Ordering::SeqCst) {
            PENDING => Some(Wake::Pending),
            STOP => Some(Wake::Stop),
            _ => None,
        }
    }

    /// Resolves when a wait on the guest's behalf is to end early.
    pub(crate) async fn woken(&self) -> Wake {
        loop {
            let changed = self.shared.changed.notified();
            if let Some(wake) = self.wake() {
                return wake;
            }
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_interrupt_is_taken_and_another_soon_after_stops() {
        let interrupts = Interrupts::new();
        assert!(!interrupts.take());
        assert!(!interrupts.interrupt());
        assert!(!interrupts.stopping());
        assert!(interrupts.take());
        assert!(!interrupts.take(), "taken once");
        // Within STOP_AFTER of the one taken: stop.
        assert!(interrupts.interrupt());
        assert!(interrupts.stopping());
    }

    #[test]
    fn a_second_interrupt_before_the_first_is_taken_stops() {
        let interrupts = Interrupts::new();
        assert!(!interrupts.interrupt());
        assert!(interrupts.interrupt());
        assert!(!interrupts.take());
    }
}
