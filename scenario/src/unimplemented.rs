//! The one list of fields podlab accepts but does not honour, each with the reason, and the
//! check that warns about every one a manifest sets (files and API bodies alike). Fields podlab
//! refuses (hostNetwork, hostPath, privileged, ...) are not here: `validate` refuses them.
//!
//! A path starts at the object (`spec.dnsConfig`); `[]` is any list element, `*` any key of a
//! map. Pod entries apply to the pod template of Deployments and ReplicaSets too, and
//! `spec.containers[]` entries to init containers too.

use serde_json::Value;

/// One field podlab does not honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unimplemented {
    /// The kind the path starts at: "Pod", "Deployment" or "ReplicaSet".
    pub kind: &'static str,
    /// The field path (`spec.containers[].stdin`).
    pub path: &'static str,
    /// What podlab does instead.
    pub reason: &'static str,
    /// Values that need no warning (the default, or what podlab does anyway). When empty, any
    /// value warns except unset ones (null, false, 0, "", {} and []).
    pub except: &'static [&'static str],
    /// An example value that warns, as JSON (for tests and docs).
    pub sample: &'static str,
}

const fn entry(kind: &'static str, path: &'static str, reason: &'static str, sample: &'static str) -> Unimplemented {
    Unimplemented {
        kind,
        path,
        reason,
        except: &[],
        sample,
    }
}

const fn pod(path: &'static str, reason: &'static str, sample: &'static str) -> Unimplemented {
    entry("Pod", path, reason, sample)
}

const NO_SA: &str = "podlab has no ServiceAccounts: no token is mounted (the name only reaches an env fieldRef)";
const NO_DNS: &str = "podlab has no cluster DNS: containers use the machine's /etc/resolv.conf";
const NO_CGROUPS: &str = "limits are not enforced (podlab puts containers in no cgroups); they count for the QoS class and as requests where none are set";
const NO_GRPC: &str = "podlab runs exec, httpGet and tcpSocket probes only: a gRPC probe always fails";
const NO_PROBE_GRACE: &str = "a container killed by a failed probe gets the pod's terminationGracePeriodSeconds";
const NO_VOLUME: &str =
    "podlab has no storage to attach: the volume is an empty directory for the pod's life, as an emptyDir";
const NO_STDIN: &str =
    "containers have no stdin or terminal (`kubectl exec -it` works; `kubectl attach -i` is refused)";

/// Every field podlab accepts but does not honour.
pub const UNIMPLEMENTED: &[Unimplemented] = &[
    pod(
        "spec.activeDeadlineSeconds",
        "a pod is never failed for running too long",
        "60",
    ),
    pod("spec.automountServiceAccountToken", NO_SA, "true"),
    pod("spec.serviceAccountName", NO_SA, "\"builder\""),
    pod("spec.serviceAccount", NO_SA, "\"builder\""),
    pod(
        "spec.imagePullSecrets",
        "images come from podlab's built-in catalog: there is no registry to log in to",
        "[{\"name\": \"regcred\"}]",
    ),
    pod("spec.dnsConfig", NO_DNS, "{\"nameservers\": [\"10.96.0.10\"]}"),
    Unimplemented {
        except: &["ClusterFirst", "Default"],
        ..pod("spec.dnsPolicy", NO_DNS, "\"None\"")
    },
    pod("spec.subdomain", NO_DNS, "\"web\""),
    pod("spec.setHostnameAsFQDN", NO_DNS, "true"),
    pod(
        "spec.hostnameOverride",
        "the pod's hostname is spec.hostname or its name",
        "\"other\"",
    ),
    pod(
        "spec.hostAliases",
        "/etc/hosts holds localhost and the pod's own name only",
        "[{\"ip\": \"10.1.2.3\", \"hostnames\": [\"db\"]}]",
    ),
    Unimplemented {
        except: &["true"],
        ..pod(
            "spec.hostUsers",
            "podlab gives pods no user namespace: containers run as the machine's root",
            "false",
        )
    },
    Unimplemented {
        except: &["linux"],
        ..pod("spec.os.name", "containers are Linux processes", "\"windows\"")
    },
    pod(
        "spec.priorityClassName",
        "podlab has no PriorityClasses and no preemption: every pod has priority 0",
        "\"high\"",
    ),
    Unimplemented {
        except: &["0"],
        ..pod(
            "spec.priority",
            "podlab has no preemption: priorities are not compared",
            "1000",
        )
    },
    pod(
        "spec.readinessGates",
        "the pod's Ready condition looks at its containers only",
        "[{\"conditionType\": \"example.com/ready\"}]",
    ),
    pod(
        "spec.resourceClaims",
        "podlab has no dynamic resource allocation",
        "[{\"name\": \"gpu\", \"resourceClaimName\": \"gpu\"}]",
    ),
    pod("spec.runtimeClassName", "podlab has one runtime", "\"gvisor\""),
    Unimplemented {
        except: &["default-scheduler"],
        ..pod(
            "spec.schedulerName",
            "podlab's one scheduler places every pod",
            "\"my-scheduler\"",
        )
    },
    pod(
        "spec.schedulingGates",
        "the pod is scheduled at once",
        "[{\"name\": \"example.com/wait\"}]",
    ),
    pod(
        "spec.securityContext.*",
        "containers run as root with the container runtime's default capabilities (no CAP_SYS_ADMIN, CAP_NET_ADMIN or CAP_MKNOD) and a read-only /proc/sys: no user, group, seccomp, SELinux, AppArmor or sysctl settings are applied",
        "{\"runAsUser\": 1000}",
    ),
    pod(
        "spec.tolerations[].tolerationSeconds",
        "pods on an unreachable node are evicted after 300 s (scaled by timeScale), whatever they tolerate",
        "60",
    ),
    pod(
        "spec.ephemeralContainers",
        "podlab has no ephemeral containers (`kubectl debug`)",
        "[{\"name\": \"debug\", \"image\": \"busybox\"}]",
    ),
    pod("spec.resources.limits", NO_CGROUPS, "{\"cpu\": \"1\"}"),
    pod("spec.containers[].stdin", NO_STDIN, "true"),
    pod("spec.containers[].stdinOnce", NO_STDIN, "true"),
    pod("spec.containers[].tty", NO_STDIN, "true"),
    pod(
        "spec.containers[].lifecycle.postStart",
        "lifecycle hooks are not run",
        "{\"exec\": {\"command\": [\"true\"]}}",
    ),
    pod(
        "spec.containers[].lifecycle.preStop",
        "lifecycle hooks are not run: a stop sends SIGTERM at once",
        "{\"exec\": {\"command\": [\"true\"]}}",
    ),
    pod(
        "spec.containers[].lifecycle.stopSignal",
        "a stop always sends SIGTERM",
        "\"SIGUSR1\"",
    ),
    pod(
        "spec.containers[].securityContext.*",
        "containers run as root with the container runtime's default capabilities (no CAP_SYS_ADMIN, CAP_NET_ADMIN or CAP_MKNOD) and a writable root: no user, group, capability, seccomp, SELinux, AppArmor or read-only settings are applied",
        "{\"runAsUser\": 1000}",
    ),
    pod(
        "spec.containers[].resources.limits",
        NO_CGROUPS,
        "{\"memory\": \"128Mi\"}",
    ),
    pod(
        "spec.containers[].resizePolicy",
        "resources are never resized in place",
        "[{\"resourceName\": \"cpu\", \"restartPolicy\": \"NotRequired\"}]",
    ),
    pod(
        "spec.containers[].volumeDevices",
        "podlab has no block devices to give containers",
        "[{\"name\": \"data\", \"devicePath\": \"/dev/xvda\"}]",
    ),
    Unimplemented {
        except: &["/dev/termination-log"],
        ..pod(
            "spec.containers[].terminationMessagePath",
            "podlab reads no termination message",
            "\"/tmp/message\"",
        )
    },
    Unimplemented {
        except: &["File"],
        ..pod(
            "spec.containers[].terminationMessagePolicy",
            "podlab reads no termination message",
            "\"FallbackToLogsOnError\"",
        )
    },
    pod(
        "spec.containers[].ports[].hostPort",
        "no port is opened on the node (the scheduler still counts it)",
        "8080",
    ),
    pod(
        "spec.containers[].ports[].hostIP",
        "no port is opened on the node",
        "\"127.0.0.1\"",
    ),
    pod(
        "spec.containers[].env[].valueFrom.fileKeyRef",
        "podlab reads no environment files: the variable is not set",
        "{\"path\": \"env\", \"volumeName\": \"v\", \"key\": \"k\"}",
    ),
    pod(
        "spec.containers[].restartPolicyRules",
        "a container restarts by the pod's restartPolicy only",
        "[{\"action\": \"Restart\", \"exitCodes\": {\"operator\": \"In\", \"values\": [42]}}]",
    ),
    pod(
        "spec.initContainers[].restartPolicy",
        "sidecar containers are not implemented: the init container must exit before the next one starts",
        "\"Always\"",
    ),
    pod("spec.containers[].livenessProbe.grpc", NO_GRPC, "{\"port\": 9000}"),
    pod("spec.containers[].readinessProbe.grpc", NO_GRPC, "{\"port\": 9000}"),
    pod("spec.containers[].startupProbe.grpc", NO_GRPC, "{\"port\": 9000}"),
    pod(
        "spec.containers[].livenessProbe.terminationGracePeriodSeconds",
        NO_PROBE_GRACE,
        "5",
    ),
    pod(
        "spec.containers[].startupProbe.terminationGracePeriodSeconds",
        NO_PROBE_GRACE,
        "5",
    ),
    pod(
        "spec.volumes[].emptyDir.sizeLimit",
        "not enforced: no pod is evicted for filling an emptyDir",
        "\"1Gi\"",
    ),
    pod(
        "spec.volumes[].projected.sources[].serviceAccountToken",
        "podlab has no ServiceAccounts: no token file is written",
        "{\"path\": \"token\"}",
    ),
    pod(
        "spec.volumes[].projected.sources[].clusterTrustBundle",
        "podlab has no ClusterTrustBundles: no file is written",
        "{\"path\": \"ca.crt\", \"name\": \"x\"}",
    ),
    pod(
        "spec.volumes[].projected.sources[].podCertificate",
        "podlab issues no pod certificates: no file is written",
        "{\"signerName\": \"x/y\", \"keyType\": \"ED25519\", \"credentialBundlePath\": \"c\"}",
    ),
    Unimplemented {
        kind: "Pod",
        path: "spec.containers[].volumeMounts[].mountPropagation",
        reason: "mounts never propagate between a container and its node",
        except: &["None"],
        sample: "\"HostToContainer\"",
    },
    pod(
        "spec.volumes[].persistentVolumeClaim",
        NO_VOLUME,
        "{\"claimName\": \"data\"}",
    ),
    pod(
        "spec.volumes[].ephemeral",
        NO_VOLUME,
        "{\"volumeClaimTemplate\": {\"spec\": {\"accessModes\": [\"ReadWriteOnce\"]}}}",
    ),
    pod(
        "spec.volumes[].nfs",
        NO_VOLUME,
        "{\"server\": \"nfs\", \"path\": \"/\"}",
    ),
    pod("spec.volumes[].csi", NO_VOLUME, "{\"driver\": \"csi.example.com\"}"),
    pod("spec.volumes[].image", NO_VOLUME, "{\"reference\": \"busybox\"}"),
    pod(
        "spec.volumes[].gitRepo",
        NO_VOLUME,
        "{\"repository\": \"https://example.com/r.git\"}",
    ),
    pod(
        "spec.volumes[].iscsi",
        NO_VOLUME,
        "{\"targetPortal\": \"t\", \"iqn\": \"i\", \"lun\": 0}",
    ),
    pod(
        "spec.volumes[].rbd",
        NO_VOLUME,
        "{\"monitors\": [\"m\"], \"image\": \"i\"}",
    ),
    pod("spec.volumes[].cephfs", NO_VOLUME, "{\"monitors\": [\"m\"]}"),
    pod("spec.volumes[].cinder", NO_VOLUME, "{\"volumeID\": \"v\"}"),
    pod("spec.volumes[].fc", NO_VOLUME, "{\"wwids\": [\"w\"]}"),
    pod("spec.volumes[].flexVolume", NO_VOLUME, "{\"driver\": \"d\"}"),
    pod("spec.volumes[].flocker", NO_VOLUME, "{\"datasetName\": \"d\"}"),
    pod(
        "spec.volumes[].glusterfs",
        NO_VOLUME,
        "{\"endpoints\": \"e\", \"path\": \"p\"}",
    ),
    pod(
        "spec.volumes[].awsElasticBlockStore",
        NO_VOLUME,
        "{\"volumeID\": \"v\"}",
    ),
    pod("spec.volumes[].gcePersistentDisk", NO_VOLUME, "{\"pdName\": \"p\"}"),
    pod(
        "spec.volumes[].azureDisk",
        NO_VOLUME,
        "{\"diskName\": \"d\", \"diskURI\": \"u\"}",
    ),
    pod(
        "spec.volumes[].azureFile",
        NO_VOLUME,
        "{\"secretName\": \"s\", \"shareName\": \"s\"}",
    ),
    pod("spec.volumes[].vsphereVolume", NO_VOLUME, "{\"volumePath\": \"p\"}"),
    pod(
        "spec.volumes[].quobyte",
        NO_VOLUME,
        "{\"registry\": \"r\", \"volume\": \"v\"}",
    ),
    pod("spec.volumes[].photonPersistentDisk", NO_VOLUME, "{\"pdID\": \"p\"}"),
    pod("spec.volumes[].portworxVolume", NO_VOLUME, "{\"volumeID\": \"v\"}"),
    pod(
        "spec.volumes[].scaleIO",
        NO_VOLUME,
        "{\"gateway\": \"g\", \"system\": \"s\", \"secretRef\": {\"name\": \"s\"}}",
    ),
    pod("spec.volumes[].storageos", NO_VOLUME, "{\"volumeName\": \"v\"}"),
    entry(
        "Deployment",
        "spec.paused",
        "podlab's Deployment controller does not pause rollouts",
        "true",
    ),
    entry(
        "Deployment",
        "spec.minReadySeconds",
        "a pod counts as available as soon as it is Ready",
        "10",
    ),
    Unimplemented {
        except: &["600"],
        ..entry(
            "Deployment",
            "spec.progressDeadlineSeconds",
            "podlab never marks a rollout as failed (no ProgressDeadlineExceeded)",
            "120",
        )
    },
    Unimplemented {
        except: &["25%"],
        ..entry(
            "Deployment",
            "spec.strategy.rollingUpdate.maxSurge",
            "podlab's rollout moves every replica to the new ReplicaSet at once",
            "\"50%\"",
        )
    },
    Unimplemented {
        except: &["25%"],
        ..entry(
            "Deployment",
            "spec.strategy.rollingUpdate.maxUnavailable",
            "podlab's rollout moves every replica to the new ReplicaSet at once",
            "1",
        )
    },
    entry(
        "ReplicaSet",
        "spec.minReadySeconds",
        "a pod counts as available as soon as it is Ready",
        "10",
    ),
];

/// One warning per field of `object` (a `kind` as JSON) that podlab does not honour:
/// `spec.containers[0].stdin: not implemented by podlab, ignored: containers have no stdin ...`.
pub fn warnings(kind: &str, object: &Value) -> Vec<Warned> {
    let template = match kind {
        "Deployment" | "ReplicaSet" => Some("spec.template."),
        _ => None,
    };
    let mut out = Vec::new();
    for u in UNIMPLEMENTED {
        let prefix = match (u.kind == kind, u.kind, template) {
            (true, _, _) => "",
            (false, "Pod", Some(t)) => t,
            _ => continue,
        };
        let mut patterns = vec![u.path.to_string()];
        if let Some(rest) = u.path.strip_prefix("spec.containers[]") {
            patterns.push(format!("spec.initContainers[]{rest}"));
        }
        for pattern in patterns {
            for (path, value) in find(object, &format!("{prefix}{pattern}")) {
                if warns(value, u.except) {
                    out.push(Warned {
                        message: format!("{path}: not implemented by podlab, ignored: {}", u.reason),
                        path,
                    });
                }
            }
        }
    }
    out
}

/// A warning about one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warned {
    /// The concrete field path (`spec.containers[0].stdin`).
    pub path: String,
    /// The warning text.
    pub message: String,
}

fn warns(v: &Value, except: &[&str]) -> bool {
    if v.is_null() {
        return false;
    }
    if !except.is_empty() {
        let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        return !except.contains(&text.as_str());
    }
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Null => false,
    }
}

/// The concrete paths (with the values) a pattern matches in `v`.
fn find<'a>(v: &'a Value, pattern: &str) -> Vec<(String, &'a Value)> {
    let mut current = vec![(String::new(), v)];
    for seg in pattern.split('.') {
        let (name, each) = match seg.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (seg, false),
        };
        let mut next = Vec::new();
        for (path, node) in current {
            let join = |k: &str| {
                if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                }
            };
            let children: Vec<(String, &Value)> = match (name, node) {
                ("*", Value::Object(m)) => m.iter().map(|(k, c)| (join(k), c)).collect(),
                (_, Value::Object(m)) => m.get(name).map(|c| (join(name), c)).into_iter().collect(),
                _ => vec![],
            };
            for (p, c) in children {
                match (each, c) {
                    (true, Value::Array(items)) => {
                        next.extend(items.iter().enumerate().map(|(i, item)| (format!("{p}[{i}]"), item)));
                    }
                    (true, _) => {}
                    (false, _) => next.push((p, c)),
                }
            }
        }
        current = next;
    }
    current
}
