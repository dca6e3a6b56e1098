//! `kubectl describe pod`: the pod, its sandbox (podlab's addition), "Init Containers:" and
//! "Containers:" (state, limits, requests, probes, environment), conditions, QoS class and
//! events, laid out as kubectl lays them out.

use crate::{SandboxInfo, events_table, labels_text};
use k8s_openapi::api::core::v1::{Container, ContainerState, ContainerStatus, Event, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `kubectl describe pod`.
pub fn describe_pod(pod: &Pod, events: &[Event], sandbox: Option<&SandboxInfo>) -> String {
    let st = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let mut o = String::new();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    o += &format!("Name:             {name}\nNamespace:        {ns}\nPriority:         0\n");
    o += &format!(
        "Service Account:  {}\n",
        spec.service_account_name.clone().unwrap_or_else(|| "default".into())
    );
    let node = match (&spec.node_name, &st.host_ip) {
        (Some(n), Some(ip)) => format!("{n}/{ip}"),
        (Some(n), None) => n.clone(),
        _ => "<none>".into(),
    };
    o += &format!("Node:             {node}\n");
    if let Some(t) = &st.start_time {
        o += &format!("Start Time:       {}\n", t.0);
    }
    o += &format!("Labels:           {}\n", labels_text(pod.metadata.labels.as_ref(), 18));
    o += &format!(
        "Annotations:      {}\n",
        labels_text(pod.metadata.annotations.as_ref(), 18)
    );
    o += &format!(
        "Status:           {}\n",
        st.phase.clone().unwrap_or_else(|| "Pending".into())
    );
    o += &format!("IP:               {}\n", st.pod_ip.clone().unwrap_or_default());
    o += "IPs:\n";
    for ip in st.pod_ips.iter().flatten() {
        o += &format!("  IP:  {}\n", ip.ip);
    }
    if st.pod_ips.as_ref().is_none_or(|v| v.is_empty()) {
        o.truncate(o.len() - 1);
        o += "              <none>\n";
    }
    if let Some(sb) = sandbox {
        o += "Sandbox (podlab):\n";
        o += &format!("  Pause PID:      {}   (nsenter -t {} -n -u -i)\n", sb.pid, sb.pid);
        o += &format!("  Network NS:     /proc/{}/ns/net  {}\n", sb.pid, sb.netns_inode);
        o += &format!("  Pod interface:  {} (in the pod's netns)\n", sb.pod_iface);
        o += &format!(
            "  Host veth:      {} (in node {}'s netns, on bridge cni0)\n",
            sb.host_veth, sb.node
        );
    }
    if let Some(inits) = spec.init_containers.as_ref().filter(|v| !v.is_empty()) {
        o += "Init Containers:\n";
        let statuses = st.init_container_statuses.clone().unwrap_or_default();
        for c in inits {
            o += &container_text(c, statuses.iter().find(|s| s.name == c.name));
        }
    }
    let statuses = st.container_statuses.clone().unwrap_or_default();
    o += "Containers:\n";
    for c in &spec.containers {
        o += &container_text(c, statuses.iter().find(|s| s.name == c.name));
    }
    o += "Conditions:\n  Type                        Status\n";
    for c in st.conditions.iter().flatten() {
        o += &format!("  {:<28}{}\n", c.type_, c.status);
    }
    o += &format!(
        "QoS Class:                   {}\n",
        st.qos_class.clone().unwrap_or_else(|| "BestEffort".into())
    );
    let sel = spec.node_selector.clone();
    o += &format!("Node-Selectors:              {}\n", labels_text(sel.as_ref(), 29));
    let events: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(name.as_str())
                && e.involved_object.namespace.as_deref() == Some(ns.as_str())
        })
        .collect();
    o += &events_table(&events);
    o
}

/// One container's block under "Containers:" or "Init Containers:".
fn container_text(c: &Container, cs: Option<&ContainerStatus>) -> String {
    let mut o = format!("  {}:\n", c.name);
    if let Some(id) = cs.and_then(|s| s.container_id.clone()) {
        o += &format!("    Container ID:  {id}\n");
    }
    o += &format!("    Image:         {}\n", c.image.clone().unwrap_or_default());
    let ports: Vec<String> = c
        .ports
        .iter()
        .flatten()
        .map(|p| {
            format!(
                "{}/{}",
                p.container_port,
                p.protocol.clone().unwrap_or_else(|| "TCP".into())
            )
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".into()
    } else {
        ports.join(", ")
    };
    o += &format!("    Port:          {ports}\n");
    for (label, list) in [("Command", &c.command), ("Args", &c.args)] {
        if let Some(list) = list {
            o += &format!("    {label}:\n");
            for a in list {
                o += &format!("      {a}\n");
            }
        }
    }
    if let Some(s) = cs {
        o += &state_text("State", s.state.as_ref());
        if s.last_state
            .as_ref()
            .is_some_and(|l| l.terminated.is_some() || l.running.is_some() || l.waiting.is_some())
        {
            o += &state_text("Last State", s.last_state.as_ref());
        }
        o += &format!("    Ready:          {}\n", if s.ready { "True" } else { "False" });
        o += &format!("    Restart Count:  {}\n", s.restart_count);
    }
    let res = c.resources.clone().unwrap_or_default();
    for (label, map) in [("Limits", res.limits), ("Requests", res.requests)] {
        if let Some(map) = map.filter(|m| !m.is_empty()) {
            o += &format!("    {label}:\n");
            for (k, v) in &map {
                o += &format!("      {k}:  {}\n", v.0);
            }
        }
    }
    for (label, p) in [
        ("Liveness", &c.liveness_probe),
        ("Readiness", &c.readiness_probe),
        ("Startup", &c.startup_probe),
    ] {
        if let Some(p) = p {
            o += &format!("    {:<16}{}\n", format!("{label}:"), probe_text(p));
        }
    }
    let env: Vec<String> = c
        .env
        .iter()
        .flatten()
        .map(|e| {
            let value = match (&e.value, e.value_from.as_ref().and_then(|v| v.field_ref.as_ref())) {
                (Some(v), _) => v.clone(),
                (None, Some(f)) => format!(
                    "({}:{})",
                    f.api_version.clone().unwrap_or_else(|| "v1".into()),
                    f.field_path
                ),
                _ => String::new(),
            };
            format!("      {}:  {value}\n", e.name)
        })
        .collect();
    if env.is_empty() {
        o += "    Environment:    <none>\n";
    } else {
        o += "    Environment:\n";
        o += &env.concat();
    }
    o
}

/// kubectl's one-line probe: `exec [cat /tmp/healthy] delay=5s timeout=1s period=5s #success=1 #failure=3`.
fn probe_text(p: &Probe) -> String {
    let port = |p: &IntOrString| match p {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    };
    let what = if let Some(e) = &p.exec {
        format!("exec [{}]", e.command.clone().unwrap_or_default().join(" "))
    } else if let Some(h) = &p.http_get {
        format!(
            "http-get {}://{}:{}{}",
            h.scheme.clone().unwrap_or_else(|| "HTTP".into()).to_lowercase(),
            h.host.clone().unwrap_or_default(),
            port(&h.port),
            h.path.clone().unwrap_or_default()
        )
    } else if let Some(t) = &p.tcp_socket {
        format!("tcp-socket {}:{}", t.host.clone().unwrap_or_default(), port(&t.port))
    } else if let Some(g) = &p.grpc {
        format!("grpc <pod>:{} {}", g.port, g.service.clone().unwrap_or_default())
    } else {
        "unknown".into()
    };
    format!(
        "{what} delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(1),
        p.period_seconds.unwrap_or(10),
        p.success_threshold.unwrap_or(1),
        p.failure_threshold.unwrap_or(3)
    )
}

fn state_text(label: &str, s: Option<&ContainerState>) -> String {
    let Some(s) = s else { return String::new() };
    let pad = |l: &str| format!("    {:<16}", format!("{l}:"));
    if let Some(r) = &s.running {
        format!(
            "{}Running\n      Started:      {}\n",
            pad(label),
            r.started_at.as_ref().map(|t| t.0.to_string()).unwrap_or_default()
        )
    } else if let Some(w) = &s.waiting {
        let mut o = format!(
            "{}Waiting\n      Reason:       {}\n",
            pad(label),
            w.reason.clone().unwrap_or_default()
        );
        if let Some(m) = &w.message {
            o += &format!("      Message:      {m}\n");
        }
        o
    } else if let Some(t) = &s.terminated {
        let mut o = format!(
            "{}Terminated\n      Reason:       {}\n",
            pad(label),
            t.reason.clone().unwrap_or_default()
        );
        if let Some(m) = &t.message {
            o += &format!("      Message:      {m}\n");
        }
        o += &format!("      Exit Code:    {}\n", t.exit_code);
        o
    } else {
        String::new()
    }
}
