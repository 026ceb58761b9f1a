//! One way to take a mutex, for every service of the node. A leaf module,
//! so that the services and the HTTP server share it without importing
//! each other.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex even if a thread panicked while holding it: the mempool and
/// the rejection log change in single steps, so what a panic leaves behind is
/// still whole, and one failed request must not take the node down.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
