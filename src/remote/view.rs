//! The remote cluster as the steps see it: a client, the pods kept current by a watch
//! (a `kube` reflector), the objects the run applied (server-side apply, deleted at the end),
//! and on-demand reads of events, logs and node addresses for the checks.

use crate::runner::expect::PodFacts;
use anyhow::{Context, Result, anyhow};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use podlab_control_plane::key_of;
use podlab_scenario::{Object, PodSelector};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The field manager podlab's server-side applies use.
const FIELD_MANAGER: &str = "podlab";

/// A connection to a cluster, with a live view of its pods.
pub(super) struct Remote {
    pub client: kube::Client,
    pods: Store<Pod>,
    /// Where `pods: all` looks.
    namespaces: Vec<String>,
    /// What the run applied (kind, namespace, name), in order.
    applied: Mutex<Vec<(&'static str, Option<String>, String)>>,
    watch: tokio::task::JoinHandle<()>,
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

/// A kube error as one line (the API's own message when it sent a Status).
pub(super) fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        e => e.to_string(),
    }
}

impl Remote {
    /// Start watching every pod and wait (up to 20 s) for the first list.
    pub async fn connect(client: kube::Client, namespaces: Vec<String>) -> Result<Remote> {
        let (pods, writer) = reflector::store();
        let stream = reflector::reflector(
            writer,
            watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()),
        );
        let watch = tokio::spawn(stream.default_backoff().for_each(|_| async {}));
        tokio::time::timeout(Duration::from_secs(20), pods.wait_until_ready())
            .await
            .map_err(|_| anyhow!("listing and watching pods did not start within 20s"))?
            .context("watching pods")?;
        Ok(Remote {
            client,
            pods,
            namespaces,
            applied: Mutex::new(Vec::new()),
            watch,
        })
    }

    /// The pods a selector picks (not those being deleted), sorted by namespace/name.
    pub fn select(&self, sel: &PodSelector) -> Vec<Pod> {
        let mut pods: Vec<Pod> = self
            .pods
            .state()
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| (**p).clone())
            .collect();
        pods.sort_by_key(key_of);
        // `All` means the scenario's own namespaces on a shared cluster.
        pods.retain(|p| {
            crate::runner::selects(sel, p)
                && (!matches!(sel, PodSelector::All) || self.namespaces.contains(&key_of(p).0))
        });
        pods
    }

    /// A pod's IP, as the watch last saw it.
    pub fn pod_ip(&self, ns: &str, name: &str) -> Option<String> {
        self.select(&PodSelector::Names {
            namespace: ns.to_string(),
            names: vec![name.to_string()],
        })
        .first()?
        .status
        .as_ref()?
        .pod_ip
        .clone()
    }

    /// Every node's InternalIP.
    pub async fn node_ips(&self) -> Result<HashMap<String, String>> {
        let nodes = Api::<Node>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| anyhow!("listing nodes: {}", api_message(&e)))?;
        Ok(nodes
            .items
            .into_iter()
            .filter_map(|n| {
                let ip = n
                    .status?
                    .addresses?
                    .into_iter()
                    .find(|a| a.type_ == "InternalIP")?
                    .address;
                Some((n.metadata.name?, ip))
            })
            .collect())
    }

    /// Events and (when `with_logs`) the logs of the containers of `pods`, for the checks.
    pub async fn facts(&self, pods: &[Pod], with_logs: bool) -> Facts {
        let events = Api::<Event>::all(self.client.clone())
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let mut logs = HashMap::new();
        for p in pods.iter().filter(|_| with_logs) {
            let (ns, name) = key_of(p);
            let api = Api::<Pod>::namespaced(self.client.clone(), &ns);
            for c in p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.clone())
                .unwrap_or_default()
            {
                let lp = LogParams {
                    container: Some(c.name.clone()),
                    ..Default::default()
                };
                let text = api.logs(&name, &lp).await.unwrap_or_default();
                logs.insert((ns.clone(), name.clone(), c.name), text);
            }
        }
        Facts { events, logs }
    }

    /// Server-side apply each object, saying what happened; the number applied.
    pub async fn apply_all(&self, objects: &[Object]) -> Result<usize> {
        for obj in objects {
            let line = self.apply(obj).await?;
            crate::runner::say(&format!("   {line}"));
        }
        Ok(objects.len())
    }

    async fn apply(&self, obj: &Object) -> Result<String> {
        let meta = obj.metadata();
        let name = meta.name.clone().unwrap_or_default();
        let ns = meta.namespace.clone().unwrap_or_else(|| "default".into());
        let pp = PatchParams::apply(FIELD_MANAGER).force();
        let c = self.client.clone();
        let (kind, namespaced, res) = match obj {
            Object::Pod(p) => (
                "pod",
                true,
                ssa(Api::namespaced(c, &ns), &name, &pp, p.as_ref()).await.map(drop),
            ),
            Object::Namespace(n) => (
                "namespace",
                false,
                ssa(Api::<Namespace>::all(c), &name, &pp, n).await.map(drop),
            ),
            Object::Deployment(d) => (
                "deployment.apps",
                true,
                ssa(Api::<Deployment>::namespaced(c, &ns), &name, &pp, d.as_ref())
                    .await
                    .map(drop),
            ),
            Object::ReplicaSet(r) => (
                "replicaset.apps",
                true,
                ssa(Api::<ReplicaSet>::namespaced(c, &ns), &name, &pp, r.as_ref())
                    .await
                    .map(drop),
            ),
            Object::ConfigMap(m) => (
                "configmap",
                true,
                ssa(Api::<ConfigMap>::namespaced(c, &ns), &name, &pp, m.as_ref())
                    .await
                    .map(drop),
            ),
            Object::Secret(s) => (
                "secret",
                true,
                ssa(Api::<Secret>::namespaced(c, &ns), &name, &pp, s.as_ref())
                    .await
                    .map(drop),
            ),
        };
        res.map_err(|e| anyhow!("applying {kind}/{name}: {}", api_message(&e)))?;
        if let Ok(mut applied) = self.applied.lock() {
            applied.push((kind, namespaced.then(|| ns.clone()), name.clone()));
        }
        Ok(format!("{kind}/{name} serverside-applied"))
    }

    /// Delete `pod` (ns, name); kubectl's message.
    pub async fn delete_pod(&self, ns: &str, name: &str) -> Result<String> {
        Api::<Pod>::namespaced(self.client.clone(), ns)
            .delete(name, &DeleteParams::default())
            .await
            .map_err(|e| anyhow!(api_message(&e)))?;
        Ok(format!("pod \"{name}\" deleted"))
    }

    /// Delete what the run applied, newest first (without waiting); how many went.
    pub async fn delete_applied(&self) -> usize {
        let applied = self.applied.lock().map(|a| a.clone()).unwrap_or_default();
        let dp = DeleteParams::background();
        let mut n = 0;
        for (kind, ns, name) in applied.iter().rev() {
            let c = self.client.clone();
            let ns = ns.as_deref().unwrap_or("default");
            let gone = match *kind {
                "pod" => Api::<Pod>::namespaced(c, ns).delete(name, &dp).await.map(drop),
                "namespace" => Api::<Namespace>::all(c).delete(name, &dp).await.map(drop),
                "deployment.apps" => Api::<Deployment>::namespaced(c, ns).delete(name, &dp).await.map(drop),
                "configmap" => Api::<ConfigMap>::namespaced(c, ns).delete(name, &dp).await.map(drop),
                "secret" => Api::<Secret>::namespaced(c, ns).delete(name, &dp).await.map(drop),
                _ => Api::<ReplicaSet>::namespaced(c, ns).delete(name, &dp).await.map(drop),
            };
            // Already gone (a step deleted it) counts as deleted.
            if gone.is_ok() || matches!(&gone, Err(kube::Error::Api(s)) if s.code == 404) {
                n += 1;
            }
        }
        n
    }
}

/// Server-side apply of one object.
async fn ssa<K>(api: Api<K>, name: &str, pp: &PatchParams, obj: &K) -> kube::Result<K>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.patch(name, pp, &Patch::Apply(obj)).await
}

/// Events and logs read from the API, for the runner's expectation checks.
pub(super) struct Facts {
    events: Vec<Event>,
    logs: HashMap<(String, String, String), String>,
}

impl PodFacts for Facts {
    fn events(&self) -> Vec<Event> {
        self.events.clone()
    }

    fn logs(&self, p: &Pod, container: &str) -> String {
        let (ns, name) = key_of(p);
        self.logs
            .get(&(ns, name, container.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}
