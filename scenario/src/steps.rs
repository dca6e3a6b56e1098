//! The `steps:` part of a scenario: what to do and check after the manifests are applied.

use std::time::Duration;

use crate::error::LoadError;
use crate::objects::{Ctx, Object};
use crate::selector::LabelSelector;
use crate::walk::{self, Map};
use crate::yaml::{Node, Value};

/// Default timeout of `wait`.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default timeout of `exec` and `connectivity`.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Optional title shown while running.
    pub name: Option<String>,
    /// Optional narration printed before the action (for lessons).
    pub say: Option<String>,
    /// What the step does.
    pub action: Action,
    /// 1-based line of the step in the scenario file.
    pub line: usize,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create or update objects (`apply: {file: x.yaml}`, a list, or one inline object).
    Apply(Vec<Object>),
    /// Wait until the selected pods reach a phase.
    Wait {
        /// Which pods.
        pods: PodSelector,
        /// Target phase (default "Running").
        phase: String,
        /// Give up after this long (default 60s).
        timeout: Duration,
    },
    /// Run a command in a container and check its result.
    Exec {
        /// Pod name.
        pod: String,
        /// Pod namespace (default "default").
        namespace: String,
        /// Container name; the first container when not set.
        container: Option<String>,
        /// Command and arguments.
        command: Vec<String>,
        /// Expected exit code (default 0).
        expect_exit_code: i32,
        /// A substring the output must contain.
        expect_output: Option<String>,
        /// Give up after this long (default 10s).
        timeout: Duration,
    },
    /// Check the state of pods.
    Expect(Expectation),
    /// Check that every selected pod can reach every other one (pod to pod, no NAT).
    Connectivity {
        /// Which pods.
        pods: PodSelector,
        /// TCP port to try; ICMP ping when not set.
        port: Option<u16>,
        /// Whether the pods should reach each other (default true).
        expect_reachable: bool,
        /// Per-probe timeout (default 10s).
        timeout: Duration,
    },
    /// Delete the selected pods.
    Delete {
        /// Which pods.
        pods: PodSelector,
    },
    /// Pause.
    Sleep(Duration),
}

/// Which pods a step is about.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PodSelector {
    /// Every pod in the cluster (`pods: all`).
    #[default]
    All,
    /// Pods by name (`pods: web`, `pods: [a, b]`, `{names: [a], namespace: x}`).
    Names {
        /// Namespace (default "default").
        namespace: String,
        /// Pod names.
        names: Vec<String>,
    },
    /// Pods by label (`{selector: "app=web", namespace: x}`); any namespace when not set.
    Labels {
        /// Namespace, or all namespaces.
        namespace: Option<String>,
        /// The selector.
        selector: LabelSelector,
    },
}

/// Conditions checked by an `expect` step; unset fields are not checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expectation {
    /// Which pods.
    pub pods: PodSelector,
    /// Every selected pod runs on this node.
    pub node: Option<String>,
    /// All selected pods share one node (true) or no two share one (false).
    pub same_node: Option<bool>,
    /// The selected pods use exactly this many distinct nodes.
    pub distinct_nodes: Option<usize>,
    /// Every selected pod is in this phase (Pending, Running, Succeeded, Failed).
    pub phase: Option<String>,
    /// Exactly this many pods are selected.
    pub count: Option<usize>,
    /// Container the container checks apply to (default: every container).
    pub container: Option<String>,
    /// Container state or reason: Running, Waiting, Terminated, CrashLoopBackOff, Error,
    /// ErrImagePull, ImagePullBackOff, Completed, OOMKilled, ...
    pub container_state: Option<String>,
    /// The container restarted at least this many times.
    pub restarts_at_least: Option<u32>,
    /// The pod's or container's reason/message contains this text (e.g. scheduler's
    /// "0/3 nodes are available").
    pub reason_contains: Option<String>,
}

const ACTIONS: [&str; 7] = ["apply", "wait", "exec", "expect", "connectivity", "delete", "sleep"];

/// How a step reads objects for `apply:` (provided by the scenario loader, which knows
/// the scenario's directory).
pub(crate) trait ApplySource {
    fn apply(&mut self, node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Result<Vec<Object>, LoadError>;
}

/// Reads `steps:`.
pub(crate) fn parse(node: Option<&Node>, src: &mut dyn ApplySource, ctx: &mut Ctx<'_>) -> Result<Vec<Step>, LoadError> {
    let Some(node) = node.filter(|n| n.value != Value::Null) else {
        return Ok(vec![]);
    };
    let Value::Seq(items) = &node.value else {
        return Err(walk::mismatch(node, "steps", "a list of steps", ctx));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| step(item, &format!("steps[{i}]"), src, ctx))
        .collect()
}

fn step(node: &Node, path: &str, src: &mut dyn ApplySource, ctx: &mut Ctx<'_>) -> Result<Step, LoadError> {
    let m = Map::new(node, path, ctx)?;
    let mut known = vec!["name", "say"];
    known.extend(ACTIONS);
    m.warn_unknown(&known, ctx);
    let action_name = only_action(node, path, ctx)?;
    let name = m.text("name", ctx)?;
    let say = m.text("say", ctx)?;
    let value = node.get(action_name).unwrap_or(node);
    let apath = m.child(action_name);
    let action = match action_name {
        "apply" => Action::Apply(src.apply(value, &apath, ctx)?),
        "wait" => {
            let am = opt_map(value, &apath, ctx)?;
            if let Some(am) = &am {
                am.warn_unknown(&["pods", "phase", "timeout"], ctx);
            }
            Action::Wait {
                pods: pods_field(am.as_ref(), ctx)?,
                phase: get(&am, |m| m.string("phase", ctx))?.unwrap_or_else(|| "Running".into()),
                timeout: get(&am, |m| m.duration("timeout", ctx))?.unwrap_or(DEFAULT_WAIT_TIMEOUT),
            }
        }
        "exec" => exec(value, &apath, ctx)?,
        "expect" => Action::Expect(expectation(value, &apath, ctx)?),
        "connectivity" => {
            let am = opt_map(value, &apath, ctx)?;
            if let Some(am) = &am {
                am.warn_unknown(&["pods", "port", "expectReachable", "timeout"], ctx);
            }
            Action::Connectivity {
                pods: pods_field(am.as_ref(), ctx)?,
                port: get(&am, |m| m.uint("port", 65535, ctx))?.map(|p| p as u16),
                expect_reachable: get(&am, |m| m.bool("expectReachable", ctx))?.unwrap_or(true),
                timeout: get(&am, |m| m.duration("timeout", ctx))?.unwrap_or(DEFAULT_EXEC_TIMEOUT),
            }
        }
        "delete" => {
            let am = Map::new(value, &apath, ctx)?;
            am.warn_unknown(&["pods"], ctx);
            let pods = am
                .get("pods")
                .ok_or_else(|| walk::error(value, &am.child("pods"), "Required value: which pods to delete", ctx))?;
            Action::Delete {
                pods: pod_selector(pods, &am.child("pods"), ctx)?,
            }
        }
        _ => Action::Sleep(walk::duration(value, &apath, ctx)?),
    };
    Ok(Step {
        name,
        say,
        action,
        line: node.line,
    })
}

/// The one action key a step has (`apply`, `wait`, ...), or an error naming the step's line
/// when it has none or several.
fn only_action(node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<&'static str, LoadError> {
    let present: Vec<&str> = ACTIONS.iter().copied().filter(|a| node.get(a).is_some()).collect();
    match present.as_slice() {
        [one] => Ok(*one),
        [] => Err(walk::error(
            node,
            path,
            &format!(
                "the step on line {} has no action: give it exactly one of {}",
                node.line,
                ACTIONS.join(", ")
            ),
            ctx,
        )),
        many => Err(walk::error(
            node,
            path,
            &format!(
                "the step on line {} has {} actions ({}): a step does exactly one thing, split it into several steps",
                node.line,
                many.len(),
                many.join(", ")
            ),
            ctx,
        )),
    }
}

/// `exec: {pod, command, ...}`: a command in a pod's container, with the exit code and
/// output it must give.
fn exec(value: &Node, apath: &str, ctx: &mut Ctx<'_>) -> Result<Action, LoadError> {
    let am = Map::new(value, apath, ctx)?;
    am.warn_unknown(
        &[
            "pod",
            "namespace",
            "container",
            "command",
            "expectExitCode",
            "expectOutput",
            "timeout",
        ],
        ctx,
    );
    let pod = am.text("pod", ctx)?.ok_or_else(|| {
        walk::error(
            value,
            &am.child("pod"),
            "Required value: which pod to run the command in",
            ctx,
        )
    })?;
    let command = match am.get("command") {
        Some(c) if matches!(c.value, Value::Seq(_)) => walk::string_list(c, &am.child("command"), ctx)?,
        Some(c) => vec!["sh".into(), "-c".into(), walk::string(c, &am.child("command"), ctx)?],
        None => {
            return Err(walk::error(
                value,
                &am.child("command"),
                "Required value: the command to run, e.g. [wget, -qO-, \"http://10.244.1.2:8080\"]",
                ctx,
            ));
        }
    };
    if command.is_empty() {
        return Err(walk::error(value, &am.child("command"), "must not be empty", ctx));
    }
    let code = match am.get("expectExitCode") {
        Some(n) => match n.value {
            Value::Int(i) if i32::try_from(i).is_ok() => i as i32,
            Value::UInt(u) if u <= 255 => u as i32,
            _ => {
                return Err(walk::mismatch(
                    n,
                    &am.child("expectExitCode"),
                    "an exit code (0-255)",
                    ctx,
                ));
            }
        },
        None => 0,
    };
    Ok(Action::Exec {
        pod,
        namespace: am.string("namespace", ctx)?.unwrap_or_else(|| "default".into()),
        container: am.string("container", ctx)?,
        command,
        expect_exit_code: code,
        expect_output: am.text("expectOutput", ctx)?,
        timeout: am.duration("timeout", ctx)?.unwrap_or(DEFAULT_EXEC_TIMEOUT),
    })
}

/// `wait: {}` / `wait:` (null) / `wait: {...}`.
fn opt_map<'n>(node: &'n Node, path: &str, ctx: &Ctx<'_>) -> Result<Option<Map<'n>>, LoadError> {
    match node.value {
        Value::Null => Ok(None),
        _ => Map::new(node, path, ctx).map(Some),
    }
}

fn get<T>(
    m: &Option<Map<'_>>,
    f: impl FnOnce(&Map<'_>) -> Result<Option<T>, LoadError>,
) -> Result<Option<T>, LoadError> {
    match m {
        Some(m) => f(m),
        None => Ok(None),
    }
}

fn pods_field(m: Option<&Map<'_>>, ctx: &Ctx<'_>) -> Result<PodSelector, LoadError> {
    match m.and_then(|m| m.get("pods").map(|n| (n, m.child("pods")))) {
        Some((n, path)) => pod_selector(n, &path, ctx),
        None => Ok(PodSelector::All),
    }
}

/// `all` | `name` | `[names]` | `{selector: "app=web", namespace: x}` |
/// `{names: [a, b], namespace: x}` | `{name: a, namespace: x}`.
pub(crate) fn pod_selector(node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<PodSelector, LoadError> {
    match &node.value {
        Value::Str(s) if s == "all" => Ok(PodSelector::All),
        Value::Str(s) => Ok(PodSelector::Names {
            namespace: "default".into(),
            names: vec![s.clone()],
        }),
        Value::Seq(_) => Ok(PodSelector::Names {
            namespace: "default".into(),
            names: walk::string_list(node, path, ctx)?,
        }),
        Value::Map(_) => {
            let m = Map::new(node, path, ctx)?;
            let namespace = m.string("namespace", ctx)?;
            if let Some(sel) = m.get("selector") {
                let text = walk::string(sel, &m.child("selector"), ctx)?;
                let selector = LabelSelector::parse(&text)
                    .map_err(|e| walk::error(sel, &m.child("selector"), &e.to_string(), ctx))?;
                return Ok(PodSelector::Labels { namespace, selector });
            }
            let names = match (m.get("names"), m.text("name", ctx)?) {
                (Some(n), _) => walk::string_list(n, &m.child("names"), ctx)?,
                (None, Some(name)) => vec![name],
                (None, None) => {
                    return Err(walk::error(
                        node,
                        path,
                        "give `selector: \"app=web\"`, `names: [a, b]` or `name: a` (or write `pods: all`)",
                        ctx,
                    ));
                }
            };
            Ok(PodSelector::Names {
                namespace: namespace.unwrap_or_else(|| "default".into()),
                names,
            })
        }
        _ => Err(walk::mismatch(
            node,
            path,
            "`all`, a pod name, a list of names or {selector: \"app=web\"}",
            ctx,
        )),
    }
}

fn expectation(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Result<Expectation, LoadError> {
    let m = Map::new(node, path, ctx)?;
    m.warn_unknown(
        &[
            "pods",
            "node",
            "sameNode",
            "distinctNodes",
            "phase",
            "count",
            "container",
            "containerState",
            "restartsAtLeast",
            "reasonContains",
        ],
        ctx,
    );
    Ok(Expectation {
        pods: pods_field(Some(&m), ctx)?,
        node: m.text("node", ctx)?,
        same_node: m.bool("sameNode", ctx)?,
        distinct_nodes: m.uint("distinctNodes", 1 << 20, ctx)?.map(|v| v as usize),
        phase: m.string("phase", ctx)?,
        count: m.uint("count", 1 << 20, ctx)?.map(|v| v as usize),
        container: m.string("container", ctx)?,
        container_state: m.string("containerState", ctx)?,
        restarts_at_least: m.uint("restartsAtLeast", u64::from(u32::MAX), ctx)?.map(|v| v as u32),
        reason_contains: m.text("reasonContains", ctx)?,
    })
}
