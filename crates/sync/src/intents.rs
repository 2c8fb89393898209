//! Intents committed together: the rows in flight that reach a write while the store is
//! committing one group of intents share the next commit (a group commit), instead of each
//! paying a commit of its own. Each row still sends its write only once its own intent is
//! durable.
//!
//! No task is spawned: the first row to find no commit under way commits its own intent
//! with those waiting, then hands the queue that built up meanwhile to one of the rows in
//! it, which commits it in turn. A row dropped while it commits (a cancel that gives up on
//! the rows in flight) hands the queue over as it goes, so no row waits for ever.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::store::{RunId, ScopeId, StateError, StateStore};

/// The night's intents, committed in groups.
pub(crate) struct Intents {
    store: Arc<dyn StateStore>,
    scope: ScopeId,
    run: RunId,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    committing: bool,
}

/// A row waiting for the commit of its intent.
type Waiter = (String, oneshot::Sender<Turn>);

/// What a waiting row is told.
enum Turn {
    /// Its intent was committed (or the commit failed: the error as the store said it).
    Done(Result<(), StateError>),
    /// It commits next, for itself and for these.
    Lead(Vec<Waiter>),
}

impl Intents {
    pub(crate) fn new(store: Arc<dyn StateStore>, scope: ScopeId, run: RunId) -> Self {
        Self {
            store,
            scope,
            run,
            queue: Mutex::new(Queue::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks `key` in doubt; returns once that is durable.
    pub(crate) async fn intend(&self, key: &str) -> Result<(), StateError> {
        let receiver = {
            let mut queue = self.lock();
            if queue.committing {
                let (sender, receiver) = oneshot::channel();
                queue.waiting.push((key.to_owned(), sender));
                Some(receiver)
            } else {
                queue.committing = true;
                None
            }
        };
        let others = match receiver {
            None => Vec::new(),
            Some(receiver) => {
                let mut waiting = Waiting {
                    intents: self,
                    receiver: Some(receiver),
                };
                let turn = match waiting.receiver.as_mut() {
                    Some(receiver) => receiver.await,
                    None => return Err(self.not_recorded()),
                };
                waiting.receiver = None;
                match turn {
                    Ok(Turn::Done(result)) => return result,
                    Ok(Turn::Lead(others)) => others,
                    Err(_) => return Err(self.not_recorded()),
                }
            }
        };
        let mut leading = Leading {
            intents: self,
            others,
        };
        let mut keys = Vec::with_capacity(leading.others.len() + 1);
        keys.push(key.to_owned());
        keys.extend(leading.others.iter().map(|(key, _)| key.clone()));
        let result = self.store.intend(self.scope, self.run, &keys).await;
        for (_, sender) in leading.others.drain(..) {
            let _ = sender.send(Turn::Done(result.as_ref().map(|_| ()).map_err(copy)));
        }
        drop(leading);
        result
    }

    /// Hands the queue (after `first`, rows handed the commit that could not take it) to
    /// the first row in it that is still waiting, or ends the commits.
    fn hand_over(&self, first: Vec<Waiter>) {
        let mut queue = self.lock();
        let mut waiting = first;
        waiting.append(&mut queue.waiting);
        while !waiting.is_empty() {
            let (_, next) = waiting.remove(0);
            match next.send(Turn::Lead(waiting)) {
                // The next row commits the rest; `committing` stays set.
                Ok(()) => return,
                Err(Turn::Lead(rest)) => waiting = rest,
                Err(Turn::Done(_)) => break,
            }
        }
        queue.committing = false;
    }

    fn not_recorded(&self) -> StateError {
        StateError::Closed {
            store: self.store.describe(),
            reason: "the intent was not recorded: the run is stopping".into(),
        }
    }
}

/// The row committing: hands over the queue when done, or when dropped half way (the rows
/// it committed for learn that their intent is not known to be recorded).
struct Leading<'a> {
    intents: &'a Intents,
    others: Vec<Waiter>,
}

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        self.others.clear();
        self.intents.hand_over(Vec::new());
    }
}

/// A row waiting for its turn: dropped after it was handed the commit (before it could
/// take it), it hands the commit on.
struct Waiting<'a> {
    intents: &'a Intents,
    receiver: Option<oneshot::Receiver<Turn>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut receiver) = self.receiver.take() {
            // Closed first: a turn is either here now or never sent.
            receiver.close();
            if let Ok(Turn::Lead(rest)) = receiver.try_recv() {
                self.intents.hand_over(rest);
            }
        }
    }
}

/// The same error for another row of the group.
fn copy(error: &StateError) -> StateError {
    match error {
        StateError::Backend {
            store,
            message,
            source,
        } => StateError::Backend {
            store: store.clone(),
            message: match source {
                Some(source) => format!("{message} ({source})"),
                None => message.clone(),
            },
            source: None,
        },
        StateError::Unusable { store, what } => StateError::Unusable {
            store: store.clone(),
            what: what.clone(),
        },
        StateError::Address { store, what } => StateError::Address {
            store: store.clone(),
            what: what.clone(),
        },
        StateError::NewerSchema {
            store,
            found,
            known,
        } => StateError::NewerSchema {
            store: store.clone(),
            found: *found,
            known: *known,
        },
        StateError::Corrupt { store, what } => StateError::Corrupt {
            store: store.clone(),
            what: what.clone(),
        },
        StateError::Closed { store, reason } => StateError::Closed {
            store: store.clone(),
            reason: reason.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryState;

    async fn intents() -> (Arc<dyn StateStore>, Intents) {
        let store: Arc<dyn StateStore> = Arc::new(MemoryState::new());
        let scope = store.scope(&crate::store::test_scope()).await.unwrap();
        let (run, _) = store
            .begin_run(scope, "in", &serde_json::Value::Null)
            .await
            .unwrap();
        (store.clone(), Intents::new(store, scope, run))
    }

    #[tokio::test]
    async fn every_intent_is_recorded_once_its_call_returns() {
        let (store, intents) = intents().await;
        let keys: Vec<String> = (0..200).map(|i| format!("u{i}@x")).collect();
        let calls = keys.iter().map(|key| intents.intend(key));
        let results = futures_util::future::join_all(calls).await;
        assert!(results.iter().all(Result::is_ok));
        let scope = intents.scope;
        let known = store.lookup(scope, intents.run, &keys).await.unwrap();
        assert!(
            known
                .iter()
                .all(|k| k.user.as_ref().is_some_and(|u| u.in_doubt)),
            "{known:?}"
        );
        assert!(!intents.lock().committing && intents.lock().waiting.is_empty());
    }

    #[tokio::test]
    async fn a_leader_dropped_half_way_leaves_no_row_waiting() {
        let (_, intents) = intents().await;
        // One row holds the commit; two queue behind it.
        intents.lock().committing = true;
        let mut first = Box::pin(intents.intend("a@x"));
        let mut second = Box::pin(intents.intend("b@x"));
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(first.as_mut().poll(&mut cx).is_pending());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        // The holder goes away: the first in the queue is handed the commit, and is
        // dropped before it makes it; the second is handed it in turn, and commits.
        intents.hand_over(Vec::new());
        drop(first);
        assert!(second.await.is_ok());
        assert!(!intents.lock().committing);
    }
}
