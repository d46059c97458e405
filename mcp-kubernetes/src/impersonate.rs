//! Acting as the caller (`--impersonate`): every request of a call carries Kubernetes
//! impersonation headers (`Impersonate-User`, `Impersonate-Group`) naming the caller's
//! authenticated identity, so the cluster's RBAC decides per user. The connector's own
//! credentials need only the `impersonate` verb; tokens are never forwarded.
//!
//! A caller's client wraps the context's client (one connection pool for everyone): a
//! tower service that sets the headers, then sends through the shared client. Callers'
//! clients are kept in a bounded cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures::future::BoxFuture;
use http::{HeaderName, HeaderValue, Request, Response};
use kube::client::Body;
use mcp_core::ToolError;
use mcp_core::security::Identity;

/// Most callers' clients kept at once (the least recently used goes first).
pub const CACHE_BOUND: usize = 256;

const USER: HeaderName = HeaderName::from_static("impersonate-user");
const GROUP: HeaderName = HeaderName::from_static("impersonate-group");

/// Who a call acts as.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    pub user: String,
    pub groups: Vec<String>,
}

impl Caller {
    /// The caller an authenticated identity acts as. Names Kubernetes reserves
    /// (`system:`) are refused: a token's subject or groups claim must not make the
    /// connector act as a node, a controller or `system:masters`.
    pub fn of(identity: &Identity) -> Result<Self, ToolError> {
        let reserved = |n: &str| n.starts_with("system:");
        if identity.name.is_empty() || reserved(&identity.name) {
            return Err(ToolError::refused(format!(
                "cannot act as `{}` on the cluster: the name is empty or reserved by Kubernetes (system:)",
                crate::output::clip(&identity.name, 80)
            )));
        }
        if let Some(g) = identity.groups.iter().find(|g| reserved(g)) {
            return Err(ToolError::refused(format!(
                "cannot act as group `{}` on the cluster: `system:` groups are reserved by Kubernetes",
                crate::output::clip(g, 80)
            )));
        }
        Ok(Self { user: identity.name.clone(), groups: identity.groups.clone() })
    }

    /// The headers of every request made as this caller.
    fn headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>, ToolError> {
        let value = |what: &str, v: &str| {
            HeaderValue::from_str(v).map_err(|_| {
                ToolError::refused(format!(
                    "cannot act as {what} `{}`: the name cannot be sent in a header",
                    crate::output::clip(v, 80)
                ))
            })
        };
        let mut out = vec![(USER, value("user", &self.user)?)];
        for g in &self.groups {
            out.push((GROUP, value("group", g)?));
        }
        Ok(out)
    }

    /// A client that sends through `base` as this caller.
    pub fn client(&self, base: &kube::Client) -> Result<kube::Client, ToolError> {
        let service = AsCaller { inner: base.clone(), headers: Arc::new(self.headers()?) };
        Ok(kube::Client::new(service, base.default_namespace().to_string()))
    }
}

/// Sets the caller's headers (replacing any the request had) and sends through the
/// shared client.
#[derive(Clone)]
struct AsCaller {
    inner: kube::Client,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
}

impl tower::Service<Request<Body>> for AsCaller {
    type Response = Response<Body>;
    type Error = kube::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, kube::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The shared client buffers and waits for readiness itself.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let h = request.headers_mut();
        h.remove(USER);
        h.remove(GROUP);
        for (name, value) in self.headers.iter() {
            h.append(name.clone(), value.clone());
        }
        let inner = self.inner.clone();
        Box::pin(async move { inner.send(request).await })
    }
}

/// Each (context, caller)'s entry and when it was last used (a tick of the cache's clock).
type Entries<T> = HashMap<(String, Caller), (Arc<T>, u64)>;

/// Callers' connections, by context and caller, bounded to [`CACHE_BOUND`].
#[derive(Default)]
pub struct Cache<T> {
    entries: Mutex<(u64, Entries<T>)>,
}

impl<T> std::fmt::Debug for Cache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").finish_non_exhaustive()
    }
}

impl<T> Cache<T> {
    pub fn new() -> Self {
        Self { entries: Mutex::new((0, HashMap::new())) }
    }

    /// The entry of (`context`, `caller`), made by `make` when missing; the least
    /// recently used entry goes when the cache is full.
    pub fn get_or(
        &self,
        context: &str,
        caller: &Caller,
        make: impl FnOnce() -> Result<T, ToolError>,
    ) -> Result<Arc<T>, ToolError> {
        let mut guard = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tick, map) = &mut *guard;
        *tick += 1;
        let key = (context.to_string(), caller.clone());
        if let Some((value, used)) = map.get_mut(&key) {
            *used = *tick;
            return Ok(value.clone());
        }
        if map.len() >= CACHE_BOUND
            && let Some(oldest) = map.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        let value = Arc::new(make()?);
        tracing::info!(context, user = %caller.user, groups = ?caller.groups, "acting as the caller on the cluster");
        map.insert(key, (value.clone(), *tick));
        Ok(value)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str, groups: &[&str]) -> Identity {
        Identity { groups: groups.iter().map(|g| g.to_string()).collect(), ..Identity::named(name) }
    }

    #[test]
    fn reserved_and_unsendable_names_are_refused() {
        assert!(Caller::of(&identity("alice", &["dev"])).is_ok());
        for bad in [identity("system:admin", &[]), identity("alice", &["system:masters"]), identity("", &[])] {
            let e = Caller::of(&bad).expect_err("refused");
            assert_eq!(e.kind(), mcp_core::ErrorKind::Refused, "{e}");
        }
        let caller = Caller::of(&identity("bad\nname", &[])).expect("not reserved");
        assert!(caller.headers().expect_err("header").to_string().contains("cannot be sent in a header"));
        let headers = Caller::of(&identity("alice", &["dev", "ops"])).expect("ok").headers().expect("headers");
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["impersonate-user", "impersonate-group", "impersonate-group"]);
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_the_recently_used() {
        let cache: Cache<usize> = Cache::new();
        let caller = |i: usize| Caller { user: format!("u{i}"), groups: vec![] };
        let first = cache.get_or("main", &caller(0), || Ok(0)).expect("made");
        for i in 1..CACHE_BOUND + 10 {
            cache.get_or("main", &caller(i), || Ok(i)).expect("made");
            // u0 stays in use, so it is never the one evicted.
            assert!(Arc::ptr_eq(&first, &cache.get_or("main", &caller(0), || Ok(999)).expect("kept")));
        }
        assert_eq!(cache.len(), CACHE_BOUND);
        assert_eq!(*cache.get_or("main", &caller(1), || Ok(1000)).expect("remade"), 1000, "u1 was evicted");
    }
}
