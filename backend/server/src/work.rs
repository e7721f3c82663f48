//! CPU-bound work (parsing, lint, evaluation, diffs) runs here, never on the async workers that
//! answer every other request: a few permits bound how much runs at once (and so the memory it
//! holds), and each piece of work can be stopped. The core polls an [`Interrupt`] that is
//! raised when the request that asked for the work goes away (its deadline passed and the
//! timeout layer dropped it, or its client disconnected) or when the server shuts down, so no
//! core keeps burning after the answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nodefit_core::budget::Interrupt;
use tokio::sync::Semaphore;

use super::error::ApiError;

pub struct Work {
    permits: Arc<Semaphore>,
    shutting_down: Arc<AtomicBool>,
}

/// Raises its flag when dropped: the handler's future holds it, so a dropped request stops its
/// work.
struct RaiseOnDrop(Arc<AtomicBool>);

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Work {
    /// `concurrency` pieces of work at once; more wait for a permit (within the request's time).
    pub fn new(concurrency: usize) -> Work {
        Work {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            shutting_down: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Interrupts all work, now and from now on.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Runs `job` on the blocking pool once a permit is free. `job` must poll the interrupt it
    /// is given (the core does, through `eval::Options` and the lint and template entry points)
    /// or be bounded by a budget on its own.
    pub async fn run<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Interrupt) -> T + Send + 'static,
        T: Send + 'static,
    {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(ApiError::shutting_down());
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        let dropped = Arc::new(AtomicBool::new(false));
        let _raise_when_dropped = RaiseOnDrop(dropped.clone());
        let shutting_down = self.shutting_down.clone();
        let interrupt = Interrupt::new(move || {
            dropped.load(Ordering::Relaxed) || shutting_down.load(Ordering::Relaxed)
        });
        let answer = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let out = job(&interrupt);
            (out, interrupt.is_raised())
        })
        .await
        .map_err(ApiError::internal)?;
        match answer {
            // Only shutting down can have raised it while this request still waits: what the
            // job returned may be cut short, so it is not answered.
            (_, true) => Err(ApiError::shutting_down()),
            (out, false) => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// A job that spins until interrupted, as evaluation of a huge fleet would.
    fn spin(interrupt: &Interrupt) -> Duration {
        let started = Instant::now();
        while !interrupt.is_raised() {
            std::hint::spin_loop();
        }
        started.elapsed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_request_stops_its_work_and_frees_its_permit() {
        let work = Arc::new(Work::new(1));
        let (tx, rx) = std::sync::mpsc::channel();
        let stopped = {
            let work = work.clone();
            tokio::time::timeout(
                Duration::from_millis(100),
                work.run(move |i| tx.send(spin(i)).unwrap()),
            )
            .await
        };
        assert!(stopped.is_err(), "the timeout dropped the request");
        let ran = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the job stopped");
        assert!(ran < Duration::from_secs(5));
        // The only permit is free again.
        let answer = tokio::time::timeout(Duration::from_secs(5), work.run(|_| 7)).await;
        assert_eq!(answer.unwrap().unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutting_down_stops_running_work_and_refuses_new_work() {
        let work = Arc::new(Work::new(2));
        let running = tokio::spawn({
            let work = work.clone();
            async move { work.run(spin).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        work.shut_down();
        let answer = tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("the job stopped")
            .unwrap();
        assert_eq!(
            answer.unwrap_err().code,
            crate::error::ErrorCode::ShuttingDown
        );
        assert_eq!(
            work.run(|_| 1).await.unwrap_err().code,
            crate::error::ErrorCode::ShuttingDown
        );
    }
}
