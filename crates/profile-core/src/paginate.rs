//! Cursor pagination as a `Stream`.

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};

use futures_util::stream::{self, Stream, TryStreamExt};

use crate::Error;

/// One page of a listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// The cursor of the next page, or `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Streams every item of a cursor-paginated listing, fetching a page only when the
/// previous one has been consumed, so memory holds one page at a time.
///
/// `fetch` gets `None` for the first page and the previous page's cursor after that. The
/// stream ends after a page without a next cursor, and fails with
/// [`Error::RepeatedCursor`] if the server sends a cursor it has sent before (which would
/// otherwise loop for ever). Only 64-bit hashes of the cursors are kept.
pub fn paginate<T, F, Fut>(
    vendor: &'static str,
    operation: &'static str,
    fetch: F,
) -> impl Stream<Item = Result<T, Error>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, Error>>,
{
    struct State<F> {
        fetch: F,
        next: Option<Option<String>>,
        seen: HashSet<u64>,
    }
    let state = State {
        fetch,
        next: Some(None),
        seen: HashSet::new(),
    };
    stream::try_unfold(state, move |mut state| async move {
        let Some(cursor) = state.next.take() else {
            return Ok(None);
        };
        let page = (state.fetch)(cursor).await?;
        if let Some(next) = &page.next_cursor {
            let mut hasher = DefaultHasher::new();
            next.hash(&mut hasher);
            if !state.seen.insert(hasher.finish()) {
                return Err(Error::RepeatedCursor { vendor, operation });
            }
        }
        state.next = page.next_cursor.map(Some);
        Ok(Some((
            stream::iter(page.items.into_iter().map(Ok::<T, Error>)),
            state,
        )))
    })
    .try_flatten()
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
