#!/usr/bin/env python3
"""Issue 13's figures for dfsrd: three real members on 127.0.0.1.

  1. site deploy: bytes on the wire per receiving member for a release that
     changes a version banner in most files of a static site, against
     `rsync -az --no-whole-file` and `zstd -3 --patch-from` of the same change
  2. latency: one small file changed on a member -> present on both others
  3. many files: 20,000 new 4 KB files -> applied on the others, files/s,
     against `rsync -a` of the same tree
  4. scale: RSS per member at N tracked files, and a restart with N
     unchanged files back in sync (no re-hashing)

Run through bench/mesh_bench.sh (it builds dfsrd first).
"""
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BIN = sys.argv[1]
SCALE_FILES = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
MANY_FILES = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
DFSRD = os.path.join(BIN, "dfsrd")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Group:
    def __init__(self, root, n=3):
        self.root = root
        self.names = ["web%d" % (i + 1) for i in range(n)]
        self.ports = [free_port() for _ in range(n)]
        self.procs = [None] * n
        os.makedirs(root, exist_ok=True)
        key = os.path.join(root, "group.key")
        with open(key, "w") as f:
            f.write(os.urandom(32).hex())
        os.chmod(key, 0o600)
        members = [{"name": self.names[i],
                    "address": "127.0.0.1:%d" % self.ports[i],
                    "folder": self.folder(i)} for i in range(n)]
        for i in range(n):
            os.makedirs(self.folder(i), exist_ok=True)
            # The defaults a farm would run with.
            config = {"group": "site1", "member": self.names[i],
                      "key_file": key,
                      "state_dir": os.path.join(root, self.names[i], "state"),
                      "members": members}
            with open(self.config(i), "w") as f:
                json.dump(config, f)

    def folder(self, i):
        return os.path.join(self.root, self.names[i], "folder")

    def config(self, i):
        return os.path.join(self.root, self.names[i] + ".json")

    def start(self, i):
        log = open(os.path.join(self.root, self.names[i] + ".log"), "a")
        started = time.monotonic()
        p = subprocess.Popen([DFSRD, "--config", self.config(i)],
                             stdout=subprocess.PIPE, stderr=log, text=True)
        line = p.stdout.readline()
        if "listening" not in line:
            raise SystemExit("dfsrd did not start: see " + log.name)
        self.procs[i] = p
        return time.monotonic() - started

    def stop(self, i):
        p = self.procs[i]
        if p:
            p.send_signal(signal.SIGTERM)
            p.wait()
            self.procs[i] = None

    def stop_all(self):
        for i in range(len(self.names)):
            self.stop(i)

    def counters(self, i):
        path = os.path.join(self.root, self.names[i], "state", "counters.json")
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def status(self, i):
        out = subprocess.run([DFSRD, "status", "--config", self.config(i),
                              "--json"], capture_output=True, text=True)
        return json.loads(out.stdout)

    def rss_kib(self, i):
        with open("/proc/%d/status" % self.procs[i].pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def tree(folder):
    out = {}
    for base, dirs, files in os.walk(folder):
        if base == folder and ".dfsrd" in dirs:
            dirs.remove(".dfsrd")
        for name in files:
            path = os.path.join(base, name)
            st = os.stat(path)
            out[os.path.relpath(path, folder)] = (st.st_size, int(st.st_mtime))
    return out


def wait(condition, limit, what):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


def converged(g, members):
    first = tree(g.folder(members[0]))
    return all(tree(g.folder(m)) == first for m in members[1:])


# ---------------------------------------------------------------- site

WORDS = ("function var const return if else for while this that data item "
         "value result render component props state update element style "
         "color margin padding border display flex grid width height").split()


def text_file(rng, kind, size, banner):
    lines = [banner]
    while sum(len(l) + 1 for l in lines) < size:
        if kind == "js":
            lines.append("  %s %s%d = %s(%d);" % (rng.choice(WORDS), rng.choice(WORDS),
                                                rng.randrange(1000), rng.choice(WORDS),
                                                rng.randrange(100000)))
        elif kind == "css":
            lines.append(".%s-%d { %s: %dpx; }" % (rng.choice(WORDS), rng.randrange(1000),
                                                 rng.choice(WORDS), rng.randrange(64)))
        else:
            lines.append("<div class=\"%s\">%s %s %d</div>" % (
                rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS),
                rng.randrange(100000)))
    return "\n".join(lines) + "\n"


def make_site(root, version, seed=1, files=3000):
    """A static site: text files whose first line is a version banner,
    plus images and fonts. Release 2 changes the banner in 90% of the text
    files, removes 20 files and adds 20."""
    rng = random.Random(seed)
    os.makedirs(root)
    kinds = ["js", "css", "html"]
    banner_of = {1: "/* example.com v4.2.0 build 1187 */",
                 2: "/* example.com v4.2.1 build 1188 */"}
    change = random.Random(seed + 99)
    for n in range(files):
        kind = kinds[n % 3]
        size = rng.randrange(2000, 20000)
        content = text_file(rng, kind, size, banner_of[1])
        removed = version == 2 and n % 150 == 7
        if removed:
            continue
        if version == 2 and change.random() < 0.9:
            content = content.replace(banner_of[1], banner_of[2], 1)
        path = os.path.join(root, kind, "d%02d" % (n % 40), "f%05d.%s" % (n, kind))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
    media = random.Random(seed + 7)
    for n in range(60):
        ext = "png" if n < 50 else "woff2"
        path = os.path.join(root, "media", "m%03d.%s" % (n, ext))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(media.randbytes(media.randrange(20000, 200000)))
    if version == 2:
        for n in range(20):
            path = os.path.join(root, "js", "new", "n%02d.js" % n)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text_file(rng, "js", 8000, banner_of[2]))


def rsync_bytes(old, new, work):
    target = os.path.join(work, "rsync-target")
    shutil.copytree(old, target)
    out = subprocess.run(["rsync", "-az", "--no-whole-file", "--delete", "--stats",
                          new + "/", target + "/"], capture_output=True, text=True,
                         check=True).stdout
    sent = received = 0
    for line in out.splitlines():
        if line.startswith("Total bytes sent:"):
            sent = int(line.split(":")[1].replace(",", ""))
        if line.startswith("Total bytes received:"):
            received = int(line.split(":")[1].replace(",", ""))
    shutil.rmtree(target)
    return sent + received


def zstd_patch_bytes(old, new):
    total = 0
    for base, _, files in os.walk(new):
        for name in files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, new)
            before = os.path.join(old, rel)
            if os.path.exists(before):
                with open(before, "rb") as a, open(path, "rb") as b:
                    if a.read() == b.read():
                        continue
                cmd = ["zstd", "-3", "-q", "-c", "--patch-from=" + before, path]
            else:
                cmd = ["zstd", "-3", "-q", "-c", path]
            total += len(subprocess.run(cmd, capture_output=True, check=True).stdout)
    return total


def mirror(src, dst):
    """Makes dst (a member's folder) hold exactly src, as a deploy would:
    each file written aside and renamed in."""
    subprocess.run(["rsync", "-a", "--delete", "--exclude", "/.dfsrd",
                    src + "/", dst + "/"], check=True)


def site_deploy(work):
    g = Group(os.path.join(work, "deploy"))
    v1 = os.path.join(work, "site-v1")
    v2 = os.path.join(work, "site-v2")
    make_site(v1, 1)
    make_site(v2, 2)
    for i in range(3):
        g.start(i)
    mirror(v1, g.folder(0))
    wait(lambda: converged(g, [0, 1, 2]), 600, "release 1 on every member")
    time.sleep(1.5)  # counters are written every scan (1 s)
    kinds = ("bytes_received", "batched_against_old", "batched_whole",
             "fetched_by_delta", "files_copied_locally")
    before = [{k: g.counters(i).get(k, 0) for k in kinds} for i in (1, 2)]
    started = time.monotonic()
    mirror(v2, g.folder(0))
    wait(lambda: converged(g, [0, 1, 2]), 600, "release 2 on every member")
    took = time.monotonic() - started
    time.sleep(1.5)
    after = [{k: g.counters(i).get(k, 0) for k in kinds} for i in (1, 2)]
    g.stop_all()
    came = [{k: a[k] - b[k] for k in kinds} for a, b in zip(after, before)]
    ours = [c["bytes_received"] for c in came]
    rsync = rsync_bytes(v1, v2, work)
    zstd = zstd_patch_bytes(v1, v2)
    print("== 1. site deploy (3,060 files, 90% with a new banner, 20 added, 20 removed)")
    print("  dfsrd: %s bytes on the wire per receiving member (web2, web3), all "
          "members in step %.1f s after the deploy" % (", ".join(map(str, ours)), took))
    print("  rsync -az --no-whole-file: %d bytes   zstd -3 --patch-from (near-limit): %d bytes"
          % (rsync, zstd))
    for name, c in zip(("web2", "web3"), came):
        print("  %s: files batched against their old version %d, batched whole %d, "
              "by delta %d, copied from a local file %d"
              % (name, c["batched_against_old"], c["batched_whole"],
                 c["fetched_by_delta"], c["files_copied_locally"]))
    print("  dfsrd / rsync: %.2f   (goal <= 0.50)" % (max(ours) / rsync))


def latency(work, changes=100):
    g = Group(os.path.join(work, "latency"))
    for i in range(3):
        g.start(i)
    path = [os.path.join(g.folder(i), "banner.txt") for i in range(3)]
    samples = []
    for n in range(changes):
        content = "release %d %s\n" % (n, "x" * 100)
        tmp = path[0] + ".tmp"
        with open(tmp, "w") as f:
            f.write(content)
        started = time.monotonic()
        os.rename(tmp, path[0])
        deadline = started + 30
        while time.monotonic() < deadline:
            ok = True
            for p in path[1:]:
                try:
                    with open(p) as f:
                        ok = ok and f.read() == content
                except OSError:
                    ok = False
            if ok:
                break
            time.sleep(0.002)
        samples.append(time.monotonic() - started)
    g.stop_all()
    samples.sort()
    print("== 2. latency: one small file changed on web1 -> on web2 and web3 (%d changes)"
          % changes)
    print("  p50 %.0f ms, p99 %.0f ms, max %.0f ms   (goal p99 <= 1000 ms)" % (
        1000 * statistics.median(samples),
        1000 * samples[int(0.99 * (len(samples) - 1))], 1000 * samples[-1]))


def many_files(work, count):
    g = Group(os.path.join(work, "many"))
    for i in range(3):
        g.start(i)
    src = os.path.join(work, "many-src")
    rng = random.Random(3)
    for n in range(count):
        d = os.path.join(src, "d%03d" % (n % 200))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%06d.txt" % n), "wb") as f:
            f.write(rng.randbytes(4096))
    started = time.monotonic()
    shutil.copytree(src, os.path.join(g.folder(0), "many"))
    def done():
        return all(sum(len(f) for _, _, f in os.walk(os.path.join(g.folder(i), "many")))
                   == count for i in (1, 2))
    wait(done, 1800, "the new files on every member")
    took = time.monotonic() - started
    g.stop_all()
    target = os.path.join(work, "many-rsync")
    r0 = time.monotonic()
    subprocess.run(["rsync", "-a", src + "/", target + "/"], check=True)
    rsync_took = time.monotonic() - r0
    print("== 3. many files: %d new 4 KB files on web1 -> on web2 and web3" % count)
    print("  dfsrd %.1f s (%.0f files/s applied on each)   rsync -a to one copy %.1f s "
          "(%.0f files/s)   (goal >= 1000 files/s)" % (took, count / took, rsync_took,
                                                      count / rsync_took))


def scale(work, count):
    g = Group(os.path.join(work, "scale"), n=2)
    src = g.folder(0)
    rng = random.Random(5)
    for n in range(count):
        d = os.path.join(src, "d%03d" % (n % 500))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%06d.html" % n), "wb") as f:
            f.write(rng.randbytes(512))
    shutil.copytree(src, g.folder(1), dirs_exist_ok=True)  # pre-seeded
    first = [g.start(i) for i in range(2)]
    wait(lambda: all(g.status(i)["records"] >= count for i in range(2)), 3600,
         "both members tracking every file")
    wait(lambda: all(p["backlog_in"] == 0 and p["connected"]
                     for i in range(2) for p in g.status(i)["peers"]), 3600,
         "the pre-seeded members in step")
    rss = [g.rss_kib(i) for i in range(2)]
    g.stop(1)
    restart = time.monotonic()
    g.start(1)
    # In step: web2 has pulled web1's whole index since it restarted.
    def back_in_step():
        since = (time.monotonic() - restart) * 1000
        return all(p["backlog_in"] == 0 and p["last_contact_ms_ago"] is not None
                   and p["last_contact_ms_ago"] < since
                   for p in g.status(1)["peers"])
    wait(back_in_step, 600, "web2 back in step")
    back = time.monotonic() - restart
    g.stop_all()
    print("== 4. scale: %d files tracked (pre-seeded on both: matched by hash)" % count)
    print("  first start (hashing every file) %.1f s / %.1f s; RSS %d KiB and %d KiB "
          "= %.0f and %.0f bytes a file   (goal <= 1024)" % (
              first[0], first[1], rss[0], rss[1], rss[0] * 1024 / count,
              rss[1] * 1024 / count))
    print("  restart with every file unchanged: back in step in %.1f s   (goal <= 10 s)"
          % back)


def main():
    work = tempfile.mkdtemp(prefix="dfs-mesh-")
    try:
        # MESH_BENCH_ONLY=deploy,latency,many,scale runs some of them.
        only = os.environ.get("MESH_BENCH_ONLY", "deploy,latency,many,scale")
        parts = set(only.split(","))
        if "deploy" in parts:
            site_deploy(work)
        if "latency" in parts:
            latency(work)
        if "many" in parts:
            many_files(work, MANY_FILES)
        if "scale" in parts:
            scale(work, SCALE_FILES)
    finally:
        subprocess.run(["pkill", "-TERM", "-f", "dfsrd --config " + work], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
