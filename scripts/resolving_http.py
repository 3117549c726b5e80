#!/usr/bin/env python3
"""The web node's HTTP server where FUSE is unavailable: each GET of
/SITE/PATH is resolved with `dfsclient resolve \\\\contoso\\webfarm\\SITE\\PATH`
(the client's referral cache, failover and failback) and the local file it
names is served. Slower than nginx over the mount; the same answers."""
import argparse
import http.server
import json
import subprocess


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--dfsclient", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--namespace", default=r"\\contoso\webfarm")
    args = p.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            parts = [x for x in self.path.split("?")[0].split("/") if x]
            if not parts or any(x in (".", "..") or "\\" in x for x in parts):
                return self.send_error(404)
            unc = args.namespace + "\\" + "\\".join(parts)
            r = subprocess.run([args.dfsclient, "--config", args.config, "--cache",
                                args.cache, "--json", "resolve", unc],
                               capture_output=True, text=True)
            try:
                local = json.loads(r.stdout)["local_path"]
                with open(local, "rb") as f:
                    body = f.read()
            except (ValueError, KeyError, OSError):
                return self.send_error(404 if r.returncode == 0 else 502)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    host, port = args.listen.rsplit(":", 1)
    http.server.ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
