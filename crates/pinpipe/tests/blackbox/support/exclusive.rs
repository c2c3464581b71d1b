//! Tests that measure the machine (latencies, limits under load) run alone.
//!
//! All black-box tests are one test binary whose tests run on parallel threads. A test that must
//! have the machine to itself takes [`alone`] first: it waits until no other test has a `pinpipe`
//! process running, and until it is dropped no other test can start one (they wait at their
//! next start). Every `pinpipe` process a test starts through this module's callers
//! ([`super::pinpipe`], [`super::Pinpipe`]) takes a [`Turn`] for its lifetime.
//!
//! A test holding `alone` must start its `pinpipe` processes from its own thread (its other
//! threads would wait for it).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;

struct State {
    /// The test thread that has the machine to itself.
    alone: Option<ThreadId>,
    /// `pinpipe` processes running for the other tests.
    others: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    alone: None,
    others: 0,
});
static CHANGED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

fn wait(guard: MutexGuard<'static, State>) -> MutexGuard<'static, State> {
    CHANGED.wait(guard).unwrap_or_else(|e| e.into_inner())
}

/// Held by a test that has the machine to itself; dropping it lets the others go on.
pub struct Alone(());

/// Waits until no other test runs a `pinpipe` process and keeps them from starting one.
pub fn alone() -> Alone {
    let mut state = state();
    while state.alone.is_some() || state.others > 0 {
        state = wait(state);
    }
    state.alone = Some(std::thread::current().id());
    Alone(())
}

impl Drop for Alone {
    fn drop(&mut self) {
        state().alone = None;
        CHANGED.notify_all();
    }
}

/// A `pinpipe` process's share of the machine, held while it runs.
pub struct Turn {
    counted: bool,
}

/// Waits while another test has the machine to itself.
pub fn turn() -> Turn {
    let me = std::thread::current().id();
    let mut state = state();
    loop {
        match state.alone {
            Some(owner) if owner == me => return Turn { counted: false },
            Some(_) => state = wait(state),
            None => break,
        }
    }
    state.others += 1;
    Turn { counted: true }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if self.counted {
            state().others -= 1;
            CHANGED.notify_all();
        }
    }
}
