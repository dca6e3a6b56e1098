//! Batched link deletion for one namespace. Deleting a veth costs ~20 ms in the kernel
//! (mostly waiting for RCU), nearly all of it per *batch*: deletes that arrive while one
//! is in flight are collected, tagged with a link group and removed by a single
//! `ip link del group N` (one kernel batch for all of them).

use std::sync::{Arc, Mutex};

use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use rtnetlink::{Handle, LinkUnspec};
use tokio::sync::oneshot;

use crate::error::errno;
use crate::nl;

/// Link group used to tag a batch (only ever set on links about to be deleted).
const REAP_GROUP: u32 = 0x706f_646c;

type Waiter = (String, oneshot::Sender<Result<(), rtnetlink::Error>>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiter>,
    running: bool,
}

/// Deletes links by name in one namespace, batching concurrent requests.
#[derive(Clone)]
pub(crate) struct Reaper {
    handle: Handle,
    rt: tokio::runtime::Handle,
    queue: Arc<Mutex<Queue>>,
}

impl std::fmt::Debug for Reaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reaper")
    }
}

impl Reaper {
    pub(crate) fn new(handle: Handle, rt: tokio::runtime::Handle) -> Self {
        Reaper {
            handle,
            rt,
            queue: Arc::default(),
        }
    }

    /// Deletes link `name` (already gone is fine); resolves once it is gone.
    pub(crate) async fn delete(&self, name: &str) -> Result<(), rtnetlink::Error> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.waiting.push((name.to_string(), tx));
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            let me = self.clone();
            self.rt.spawn(async move { me.run().await });
        }
        rx.await.unwrap_or(Err(rtnetlink::Error::RequestFailed))
    }

    async fn run(self) {
        loop {
            let batch = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if q.waiting.is_empty() {
                    q.running = false;
                    return;
                }
                std::mem::take(&mut q.waiting)
            };
            if let [(name, _)] = batch.as_slice() {
                let r = nl::delete_link_by_name(&self.handle, name).await;
                for (_, tx) in batch {
                    let _ = tx.send(r.clone());
                }
                continue;
            }
            self.delete_batch(batch).await;
        }
    }

    async fn delete_batch(&self, batch: Vec<Waiter>) {
        let h = &self.handle;
        let tags = batch.iter().map(|(name, _)| async move {
            let msg = LinkUnspec::new_with_name(name).link_group(REAP_GROUP).build();
            match h.link().set(msg).execute().await {
                Err(e) if errno(&e) != Some(libc::ENODEV) => Err(e),
                _ => Ok(()),
            }
        });
        let tagged = futures::future::join_all(tags).await;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::Group(REAP_GROUP));
        let group = match h.link().del_with_message(msg).execute().await {
            Err(e) if errno(&e) != Some(libc::ENODEV) => Err(e),
            _ => Ok(()),
        };
        for ((name, tx), tag) in batch.into_iter().zip(tagged) {
            let r = match (&tag, &group) {
                (Ok(()), Ok(())) => Ok(()),
                // Fall back to deleting this one on its own.
                _ => nl::delete_link_by_name(h, &name).await,
            };
            let _ = tx.send(r);
        }
    }
}
