//! Cursor pagination as a `Stream`.

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::Poll;

use futures_util::stream::{self, Stream};

use crate::Error;

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// The cursor of the next page, or `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Streams every item of a cursor-paginated listing, asking for the next page as soon as
/// a page arrives, so that the server prepares it while this page's items are used: a
/// listing takes about the time of its requests or of the work on its items, whichever is
/// longer, not both. Memory holds two pages at most (the one being used and the next).
///
/// `fetch` gets `None` for the first page and the previous page's cursor after that. The
/// stream ends after a page without a next cursor, and fails with
/// [`Error::RepeatedCursor`] if the server sends a cursor it has sent before (which would
/// otherwise loop for ever). A page that fails ends the stream with its error once the
/// items before it are used. Only 64-bit hashes of the cursors are kept. A stream dropped
/// before its end may have asked for one page it did not use.
pub fn paginate<T, F, Fut>(
    vendor: &'static str,
    operation: &'static str,
    mut fetch: F,
) -> impl Stream<Item = Result<T, Error>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    // The cursor of the page to ask for next (`Some(None)`: the first), the request under
    // way, the page that arrived before the current one was used up, the current page.
    let mut next: Option<Option<String>> = Some(None);
    let mut asked: Option<Pin<Box<Fut>>> = None;
    let mut arrived: Option<Vec<T>> = None;
    let mut current = Vec::new().into_iter();
    let mut failed: Option<Error> = None;
    let mut seen: HashSet<u64> = HashSet::new();
    stream::poll_fn(move |cx| {
        loop {
            if asked.is_none() && arrived.is_none() && failed.is_none() {
                if let Some(cursor) = next.take() {
                    asked = Some(Box::pin(fetch(cursor)));
                }
            }
            if let Some(request) = asked.as_mut() {
                if let Poll::Ready(answer) = request.as_mut().poll(cx) {
                    asked = None;
                    match answer {
                        Ok(page) => match &page.next_cursor {
                            Some(cursor) if !seen.insert(hash_of(cursor)) => {
                                failed = Some(Error::RepeatedCursor { vendor, operation });
                            }
                            _ => {
                                next = page.next_cursor.map(Some);
                                arrived = Some(page.items);
                            }
                        },
                        Err(error) => failed = Some(error),
                    }
                }
            }
            if let Some(item) = current.next() {
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(items) = arrived.take() {
                current = items.into_iter();
                continue;
            }
            if let Some(error) = failed.take() {
                next = None;
                return Poll::Ready(Some(Err(error)));
            }
            if asked.is_none() && next.is_none() {
                return Poll::Ready(None);
            }
            return Poll::Pending;
        }
    })
}

fn hash_of(cursor: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    cursor.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn pages(
        cursors: &'static [(&'static [u32], Option<&'static str>)],
    ) -> impl FnMut(Option<String>) -> std::future::Ready<Result<Page<u32>, Error>> {
        let mut calls = 0usize;
        move |cursor| {
            let expected = if calls == 0 {
                None
            } else {
                cursors[calls - 1].1.map(str::to_owned)
            };
            assert_eq!(cursor, expected, "call {calls} got the wrong cursor");
            let (items, next) = cursors[calls];
            calls += 1;
            std::future::ready(Ok(Page {
                items: items.to_vec(),
                next_cursor: next.map(str::to_owned),
            }))
        }
    }

    #[tokio::test]
    async fn every_item_of_every_page_comes_once_in_order() {
        let all: Vec<u32> = paginate(
            "v",
            "list",
            pages(&[(&[1, 2], Some("a")), (&[3], Some("b")), (&[4, 5], None)]),
        )
        .map(|r| r.unwrap())
        .collect()
        .await;
        assert_eq!(all, [1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn the_next_page_is_asked_for_while_this_one_is_used_and_no_further() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let mut fetch = pages(&[(&[1, 2], Some("a")), (&[3], Some("b")), (&[4], None)]);
        let stream = paginate("v", "list", move |cursor| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            fetch(cursor)
        });
        futures_util::pin_mut!(stream);
        let asked = || calls.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(stream.next().await.unwrap().unwrap(), 1);
        // The second page is under way before the first is used up; not the third.
        assert_eq!(asked(), 2);
        assert_eq!(stream.next().await.unwrap().unwrap(), 2);
        assert_eq!(asked(), 2);
        assert_eq!(stream.next().await.unwrap().unwrap(), 3);
        assert_eq!(asked(), 3);
        assert_eq!(stream.next().await.unwrap().unwrap(), 4);
        assert!(stream.next().await.is_none());
        assert_eq!(asked(), 3);
    }

    #[tokio::test]
    async fn a_repeating_cursor_ends_the_stream_with_an_error() {
        let results: Vec<_> = paginate(
            "v",
            "list",
            pages(&[(&[1], Some("a")), (&[2], Some("b")), (&[3], Some("a"))]),
        )
        .collect()
        .await;
        assert_eq!(results.len(), 3);
        assert_eq!(*results[0].as_ref().unwrap(), 1);
        assert_eq!(*results[1].as_ref().unwrap(), 2);
        assert!(matches!(results[2], Err(Error::RepeatedCursor { .. })));
    }

    #[tokio::test]
    async fn a_failing_page_ends_the_stream_with_its_error() {
        let mut calls = 0;
        let stream = paginate("v", "list", move |_| {
            calls += 1;
            std::future::ready(if calls == 1 {
                Ok(Page {
                    items: vec![1u32],
                    next_cursor: Some("a".into()),
                })
            } else {
                Err(Error::invalid_input("boom"))
            })
        });
        let results: Vec<_> = stream.collect().await;
        assert_eq!(results.len(), 2);
        assert!(results[1].as_ref().unwrap_err().is_invalid_input());
    }
}
