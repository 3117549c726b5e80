#!/usr/bin/env python3
"""The web farm of seed 003 on one machine, all on loopback.

    two namespace servers   ns1 127.0.0.21 (primary), ns2 127.0.0.22 (--replica-of ns1)
                            answering \\\\contoso\\webfarm: Site1 and Site2, each with
                            web1 "first among all targets" and web2 "last among all
                            targets", short cache times, client failback on
    two content servers     web1 127.0.0.11, web2 127.0.0.12: each a folder per site
                            kept in step by one dfsrd per site (a two-member mesh),
                            and its file service (nginx serving the folder: what the
                            namespace servers and the web node probe); the web node
                            reaches each server's folder through a FUSE mount of its
                            own (bindfs, as it would an NFS or SMB share), so a
                            server can hang (SIGSTOP) under the web node's reads
    a web node              127.0.0.31: dfsclient's FUSE mount of \\\\contoso, and nginx
                            serving the mount over HTTP (without FUSE: a small HTTP
                            server that resolves each request with `dfsclient resolve`)

Used by `make demo` (scripts/demo.sh), `make drill` (scripts/drill.py) and the
e2e test. Every process is a child of this one; Farm.down() (or Ctrl-C in
`farm.py up`) stops them all and unmounts.

    python3 scripts/farm.py up [--dir DIR] [--build BUILD] [--ttl S] [--probe-ms MS]
"""
import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NS = {"ns1": "127.0.0.21", "ns2": "127.0.0.22"}
SERVERS = {"web1": "127.0.0.11", "web2": "127.0.0.12"}
WEB_NODE = "127.0.0.31"
SITES = ["Site1", "Site2"]
NAMESPACE = r"\\contoso\webfarm"


def _die_with_parent():
    """Children go when the farm's process goes, even on kill -9 (a test's
    deadline): nothing is left listening."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def unmount(path):
    """Unmounts a FUSE mount left behind (its daemon killed), lazily."""
    # (A mount whose daemon died answers ENOTCONN: os.path.ismount cannot
    # tell, so it is always asked; not mounted, fusermount3 only fails.)
    subprocess.run(["fusermount3", "-u", "-z", "-q", path],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def free_port(ip):
    with socket.socket() as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def wait_for(condition, limit, what):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise RuntimeError("timed out after %.0f s waiting for %s" % (limit, what))


def listening(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def site_page(site, release):
    """The page every content server serves for `site` at `release`."""
    filler = "".join("<p>%s paragraph %d of release %d</p>\n" % (site, n, release)
                     for n in range(200))
    return "<h1>%s release %d</h1>\n%s" % (site, release, filler)


class Farm:
    def __init__(self, directory, bin_dir, ttl=10, probe_ms=1000,
                 poll_ms=100, quiet=False):
        self.dir = os.path.abspath(directory)
        self.bin = os.path.abspath(bin_dir)
        self.ttl = ttl
        self.probe_ms = probe_ms
        self.poll_ms = poll_ms
        self.quiet = quiet
        self.procs = {}  # name -> Popen
        self.fuse = (os.access("/dev/fuse", os.W_OK)
                     and shutil.which("fusermount3") is not None)
        self.bindfs = shutil.which("bindfs") if self.fuse else None
        self.nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        self.ports = {}

    # ------------------------------------------------------------ helpers
    def say(self, text):
        if not self.quiet:
            print(text, flush=True)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def tool(self, name):
        return os.path.join(self.bin, name)

    def logged(self, name, text):
        """Whether the log of `name` says `text` (the daemons print
        "listening" once ready: no probing connection to annoy them)."""
        try:
            with open(self.path("logs", name + ".log"), "rb") as f:
                return text.encode() in f.read()
        except OSError:
            return False

    def spawn(self, name, argv, ready=None, limit=20):
        log = open(self.path("logs", name + ".log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             preexec_fn=_die_with_parent)
        self.procs[name] = p
        if ready:
            try:
                wait_for(lambda: p.poll() is None and ready(), limit, name)
            except RuntimeError:
                raise RuntimeError("%s did not start: see %s" % (name, log.name))
        return p

    def stop(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.send_signal(signal.SIGCONT)  # a hung one must run to stop
            p.send_signal(sig)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def dfsutil(self, *args):
        subprocess.run([self.tool("dfsutil"), "--store", self.path("ns1", "store"), *args],
                       check=True, stdout=subprocess.DEVNULL)

    # ------------------------------------------------------------ setup
    def prepare(self):
        # What an earlier farm here left mounted goes first (rmtree would
        # walk into it).
        for mnt in [self.path("web", "mnt")] + [self.path("web", "shares", s)
                                                 for s in SERVERS]:
            if os.path.isdir(os.path.dirname(mnt)):
                unmount(mnt)
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in ("logs", "keys", "ns1", "ns2", "web", "web/mnt"):
            os.makedirs(self.path(d), exist_ok=True)
        for key in ("admin", "site1", "site2"):
            with open(self.path("keys", key + ".key"), "w") as f:
                f.write(os.urandom(32).hex())
            os.chmod(self.path("keys", key + ".key"), 0o600)
        self.ports["ns"] = self.common_port(list(NS.values()))
        self.ports["ns_metrics"] = self.common_port(list(NS.values()))
        self.ports["share"] = self.common_port(list(SERVERS.values()))
        for site in SITES:
            self.ports[site] = self.common_port(list(SERVERS.values()))
            # Each member's metrics and /status (dfsd's status page polls it).
            self.ports[site + "_status"] = self.common_port(list(SERVERS.values()))
        self.ports["http"] = free_port(WEB_NODE)
        self.ports["mount_metrics"] = free_port(WEB_NODE)
        # The content: the primary (web1) holds release 1; web2 starts empty
        # and is filled by dfsrd. server.txt says which server answered
        # (never replicated: a filter).
        for server in SERVERS:
            for site in SITES:
                folder = self.content(server, site)
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, "server.txt"), "w") as f:
                    f.write(server + "\n")
                if server == "web1":
                    with open(os.path.join(folder, "index.html"), "w") as f:
                        f.write(site_page(site, 1))
                    with open(os.path.join(folder, "app.js"), "w") as f:
                        f.write("console.log('%s');\n" % site * 50)
        self.build_namespace()
        with open(self.path("farm.json"), "w") as f:
            json.dump({"ports": self.ports, "ttl": self.ttl, "probe_ms": self.probe_ms,
                       "fuse": self.fuse}, f, indent=2)

    def common_port(self, ips):
        """A port free on every one of `ips` (members of one role share it)."""
        for _ in range(50):
            port = free_port(ips[0])
            ok = port not in self.ports.values()  # each role its own
            for ip in ips[1:]:
                try:
                    with socket.socket() as s:
                        s.bind((ip, port))
                except OSError:
                    ok = False
            if ok:
                return port
        raise RuntimeError("no common free port")

    def share(self, server):
        """Where the web node reads `server`'s folder: its FUSE mount of it
        (bindfs), or the folder itself where bindfs or FUSE is missing."""
        return self.path("web", "shares", server) if self.bindfs else self.content(server)

    def start_share(self, server):
        if not self.bindfs:
            return
        mnt = self.share(server)
        unmount(mnt)  # what a killed one left behind
        os.makedirs(mnt, exist_ok=True)
        self.spawn(server + "-share-mount", [self.bindfs, "-f", "--no-allow-other",
                                             self.content(server), mnt],
                   ready=lambda: os.path.ismount(mnt))

    def hang_server(self, server):
        """The content server hangs: every process of it stopped (SIGSTOP),
        its share's FUSE daemon too: reads of it block, connections to it
        are still accepted by the kernel."""
        for name in [n for n in self.procs if n.startswith(server + "-")]:
            self.procs[name].send_signal(signal.SIGSTOP)

    def resume_server(self, server):
        for name in [n for n in self.procs if n.startswith(server + "-")]:
            self.procs[name].send_signal(signal.SIGCONT)

    def content(self, server, site=None):
        base = self.path(server, "content")
        return os.path.join(base, site) if site else base

    def build_namespace(self):
        r = NAMESPACE
        self.dfsutil("root", "add", r, "--comment", "web farm content")
        self.dfsutil("target", "add", r, r"\\ns1\webfarm")
        self.dfsutil("target", "add", r, r"\\ns2\webfarm")
        self.dfsutil("domain", "alias", "add", "CONTOSO", "contoso.com")
        self.dfsutil("property", "failback", "set", r, "on")
        self.dfsutil("property", "ttl", "set", r, str(self.ttl))
        for site in SITES:
            folder = r + "\\" + site
            self.dfsutil("link", "add", folder, r"\\web1\content" + "\\" + site,
                         "--priority", "first")
            self.dfsutil("target", "add", folder, r"\\web2\content" + "\\" + site,
                         "--priority", "last")
            self.dfsutil("property", "ttl", "set", folder, str(self.ttl))
            self.dfsutil("property", "failback", "set", folder, "on")
            self.dfsutil("property", "comment", "set", folder,
                         "primary web1, backup web2")

    # ------------------------------------------------------------ namespace servers
    def ns_address(self, name):
        return "%s:%d" % (NS[name], self.ports["ns"])

    def start_ns(self, name):
        argv = [self.tool("dfsd"), "--store", self.path(name, "store"),
                "--listen", self.ns_address(name),
                "--metrics", "%s:%d" % (NS[name], self.ports["ns_metrics"]),
                "--replica-key", self.path("keys", "admin.key"),
                "--probe-interval-ms", str(self.probe_ms),
                # The shares are web servers: an HTTP check tells a hung one
                # (its port still accepts) from a serving one.
                "--probe-check", "http",
                "--probe-timeout-ms", str(min(self.probe_ms, 500))]
        for server, ip in SERVERS.items():
            argv += ["--probe", "%s=%s:%d" % (server, ip, self.ports["share"])]
            # The status page's replication section: every dfsrd member.
            for site in SITES:
                argv += ["--dfsrd", self.dfsrd_status(server, site)]
        if name == "ns2":
            os.makedirs(self.path(name, "store"), exist_ok=True)
            argv += ["--replica-of", self.ns_address("ns1")]
        self.spawn(name, argv, ready=lambda: self.logged(name, "listening"))

    # ------------------------------------------------------------ content servers
    def dfsrd_status(self, server, site):
        return "%s:%d" % (SERVERS[server], self.ports[site + "_status"])

    def dfsrd_config(self, server, site):
        return self.path(server, "dfsrd-%s.json" % site.lower())

    def write_dfsrd_configs(self):
        for server in SERVERS:
            for site in SITES:
                members = [{"name": s, "address": "%s:%d" % (ip, self.ports[site]),
                            "folder": self.content(s, site)} for s, ip in SERVERS.items()]
                config = {"group": site.lower(), "member": server,
                          "key_file": self.path("keys", site.lower() + ".key"),
                          "state_dir": self.path(server, "state-" + site.lower()),
                          "members": members,
                          "filters": ["~*", "*.tmp", "*.bak", "server.txt"],
                          "metrics": self.dfsrd_status(server, site),
                          "poll_interval_ms": self.poll_ms}
                with open(self.dfsrd_config(server, site), "w") as f:
                    json.dump(config, f, indent=2)

    def nginx_conf(self, name, ip, port, root):
        prefix = self.path("nginx", name)
        os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
        conf = os.path.join(prefix, "nginx.conf")
        # Started as root, nginx's workers would be nobody, who cannot walk
        # into a private farm folder: they run as the farm's owner.
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(user + """# One process (no master and workers): killed, it is all gone.
master_process off;
daemon off;
pid %(p)s/nginx.pid;
error_log %(p)s/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path %(p)s/tmp/body;
  proxy_temp_path %(p)s/tmp/proxy;
  fastcgi_temp_path %(p)s/tmp/fastcgi;
  uwsgi_temp_path %(p)s/tmp/uwsgi;
  scgi_temp_path %(p)s/tmp/scgi;
  types { text/html html; text/css css; application/javascript js; text/plain txt; }
  default_type application/octet-stream;
  etag off;
  server {
    listen %(ip)s:%(port)d;
    root %(root)s;
    location / { }
  }
}
""" % {"p": prefix, "ip": ip, "port": port, "root": root})
        return [self.nginx, "-p", prefix, "-e", os.path.join(prefix, "error.log"), "-c", conf]

    def start_server(self, server, wait_in_step=True):
        """dfsrd for each site, then (once in step with its peer) the file
        service the probes watch: a returning primary is back in service
        only with what the backup has."""
        os.makedirs(self.content(server), exist_ok=True)
        for site in SITES:
            name = "%s-dfsrd-%s" % (server, site.lower())
            self.spawn(name, [self.tool("dfsrd"), "--config", self.dfsrd_config(server, site)],
                       ready=lambda name=name: self.logged(name, "listening"))
        if wait_in_step:
            for site in SITES:
                r = subprocess.run([self.tool("dfsrd"), "status", "--config",
                                    self.dfsrd_config(server, site), "--wait-in-step", "60"],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError("%s %s not in step: %s" % (server, site, r.stderr))
        self.start_share(server)
        ip, port = SERVERS[server], self.ports["share"]
        self.spawn(server + "-share", self.nginx_conf(server, ip, port, self.content(server)),
                   ready=lambda: listening(ip, port))

    def kill_server(self, server):
        """The content server dies: its processes are killed (SIGKILL), the
        web node's mount of its share with them (reads fail: "transport
        endpoint is not connected"), and its folder is moved away."""
        for name in [n for n in self.procs if n.startswith(server + "-")]:
            self.stop(name, signal.SIGKILL)
        os.rename(self.content(server), self.content(server) + ".down")

    def revive_server(self, server):
        os.rename(self.content(server) + ".down", self.content(server))
        self.start_server(server)

    def command(self, line):
        """One line of the control FIFO: kill|revive web1|web2|ns1|ns2."""
        words = line.split()
        if len(words) != 2 or words[0] not in ("kill", "revive") or \
                words[1] not in list(SERVERS) + list(NS):
            return "commands: kill|revive web1|web2|ns1|ns2"
        verb, name = words
        if name in NS:
            if verb == "kill":
                self.stop(name, signal.SIGKILL)
            elif name not in self.procs:
                self.start_ns(name)
        elif verb == "kill" and os.path.isdir(self.content(name)):
            self.kill_server(name)
        elif verb == "revive" and os.path.isdir(self.content(name) + ".down"):
            self.revive_server(name)
        return "%s %s: done" % (verb, name)

    # ------------------------------------------------------------ web node
    def client_config(self):
        return self.path("web", "client.json")

    def write_client_config(self):
        config = {
            "namespace_servers": [self.ns_address("ns1"), self.ns_address("ns2")],
            "namespace_timeout_ms": 500,
            "mounts": {"//%s/content" % s: self.share(s) for s in SERVERS},
            "probes": dict({s: "%s:%d" % (ip, self.ports["share"])
                            for s, ip in SERVERS.items()}, ns1="none", ns2="none"),
            "probe_timeout_ms": 300,
            "recheck_ms": 300,
            "op_timeout_ms": 1000,
        }
        with open(self.client_config(), "w") as f:
            json.dump(config, f, indent=2)

    def dfsclient(self, *args, cache=None):
        return subprocess.run([self.tool("dfsclient"), "--config", self.client_config(),
                               "--cache", cache or self.path("web", "pkt.json"), *args],
                              capture_output=True, text=True)

    def start_web_node(self):
        port = self.ports["http"]
        if self.fuse and self.nginx:
            argv = [self.tool("dfsclient"), "--config", self.client_config(),
                    "--cache", self.path("web", "pkt.json"), "mount", self.path("web", "mnt"),
                    "--domain", "contoso", "--root", "webfarm",
                    "--metrics", "%s:%d" % (WEB_NODE, self.ports["mount_metrics"])]
            if os.geteuid() == 0:
                argv.append("--allow-other")  # nginx's workers run as nobody
            mnt = self.path("web", "mnt", "webfarm")
            self.spawn("web-mount", argv, ready=lambda: os.path.isdir(mnt))
            self.spawn("web-nginx", self.nginx_conf("web", WEB_NODE, port, mnt),
                       ready=lambda: listening(WEB_NODE, port))
            self.web_mode = "nginx over the dfsclient FUSE mount"
        else:
            self.spawn("web-http", [sys.executable, os.path.join(HERE, "resolving_http.py"),
                                    "--listen", "%s:%d" % (WEB_NODE, port),
                                    "--dfsclient", self.tool("dfsclient"),
                                    "--config", self.client_config(),
                                    "--cache", self.path("web", "pkt.json")],
                       ready=lambda: listening(WEB_NODE, port))
            self.web_mode = ("a small HTTP server resolving each request with dfsclient "
                             "(no FUSE here" + ("" if self.nginx else ", no nginx") + ")")

    def url(self, path=""):
        return "http://%s:%d/%s" % (WEB_NODE, self.ports["http"], path)

    # ------------------------------------------------------------ all
    def up(self):
        self.prepare()
        self.start_ns("ns1")
        self.start_ns("ns2")
        self.write_dfsrd_configs()
        # Both content servers at once (web2 is filled from web1).
        for server in SERVERS:
            self.start_server(server, wait_in_step=False)
        wait_for(lambda: all(os.path.exists(os.path.join(self.content("web2", s), "index.html"))
                             for s in SITES), 60, "web2 filled by dfsrd")
        self.write_client_config()
        self.start_web_node()
        return self

    def down(self):
        # The web node first (it reads the shares), the shares' mounts last.
        for name in ["web-nginx", "web-http", "web-mount"]:
            self.stop(name)
        for name in [n for n in self.procs if not n.endswith("-share-mount")]:
            self.stop(name)
        for name in list(self.procs):
            self.stop(name)  # unmount on SIGTERM
        unmount(self.path("web", "mnt"))
        for server in SERVERS:
            if self.bindfs:
                unmount(self.share(server))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--dir", default=os.path.join(ROOT, "demo-farm"))
    parser.add_argument("--build", default="build")
    parser.add_argument("--ttl", type=int, default=10)
    parser.add_argument("--probe-ms", type=int, default=1000)
    args = parser.parse_args()
    farm = Farm(args.dir, os.path.join(ROOT, args.build, "bin"), args.ttl, args.probe_ms)
    stop = []
    # Ctrl-C and SIGTERM both stop the farm (set here: a shell may have
    # started us with SIGINT ignored).
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        farm.up()
        control = farm.path("control")
        os.mkfifo(control)
        fd = os.open(control, os.O_RDONLY | os.O_NONBLOCK)
        # Kept open for writing too, so the FIFO never reads as closed.
        keep = os.open(control, os.O_WRONLY)
        print_tour(farm)
        pending = b""
        while not stop:
            time.sleep(0.2)
            try:
                pending += os.read(fd, 4096)
            except BlockingIOError:
                pass
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                try:
                    print("farm:", farm.command(line.decode(errors="replace")), flush=True)
                except Exception as e:  # a command failing leaves the farm up
                    print("farm: %s failed: %s" % (line.decode(errors="replace"), e),
                          flush=True)
        os.close(keep)
        os.close(fd)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping the farm...", flush=True)
        farm.down()
        print("stopped: nothing left running or mounted.", flush=True)


def print_tour(farm):
    shown = subprocess.run([farm.tool("dfsutil"), "--store", farm.path("ns1", "store"), "show",
                            NAMESPACE], capture_output=True, text=True).stdout
    print("\nThe namespace (dfsutil show):\n" + shown, flush=True)
    rel = os.path.relpath(farm.dir)
    b = os.path.relpath(farm.bin)
    ns1 = farm.ns_address("ns1")
    print("""
The web farm is up (%(dir)s; logs in %(dir)s/logs):
  namespace servers   ns1 %(ns1)s (primary)   ns2 %(ns2)s (replica of ns1)
  content servers     web1 127.0.0.11   web2 127.0.0.12   (dfsrd per site, nginx share :%(share)d)
  web node            %(url)s   (%(mode)s)
  status page         http://%(status)s/   (namespace, target health, replication)

  curl %(url)sSite1/index.html | head -1
  curl %(url)sSite1/server.txt                 # which content server answered

Things to try (the farm takes commands on %(dir)s/control):
  kill the primary content server:    echo 'kill web1' > %(dir)s/control     # kill -9, its share gone
  edit on the backup:                 echo '<h1>fixed on web2</h1>' > %(dir)s/web2/content/Site1/index.html
  bring the primary back:             echo 'revive web1' > %(dir)s/control   # in step first, then serving
  kill the primary namespace server:  echo 'kill ns1' > %(dir)s/control      # resolves go to ns2
  replication state:                  %(b)s/dfsrd status --config %(dir)s/web2/dfsrd-site1.json
  the web node's referral cache:      %(b)s/dfsclient --config %(dir)s/web/client.json --cache %(dir)s/web/pkt.json pktinfo
  the namespace:                      %(b)s/dfsutil --store %(dir)s/ns1/store show '\\\\contoso\\webfarm'
  a referral from a namespace server: %(b)s/dfsutil diag referral --server %(ns1)s '\\contoso\\webfarm\\Site1'
  the whole drill:                    make drill
Ctrl-C stops everything.""" % {
        "dir": rel, "ns1": ns1, "ns2": farm.ns_address("ns2"), "share": farm.ports["share"],
        "url": farm.url(), "mode": farm.web_mode, "b": b,
        "status": "%s:%d" % (NS["ns1"], farm.ports["ns_metrics"])}, flush=True)


if __name__ == "__main__":
    main()
