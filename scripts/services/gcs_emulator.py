#!/usr/bin/env python3
"""A Google Cloud Storage emulator for the XML API, as object_store's GCS client uses it.

Path-style requests on http://HOST:PORT: PUT/GET/HEAD/DELETE /{bucket}/{object} (Range,
If-Match/If-None-Match/If-(Un)Modified-Since, ?generation=), PUT with x-goog-copy-source (copy),
x-goog-if-generation-match on PUT/copy/DELETE (0 = only when absent; 412 otherwise), multipart
uploads (POST ?uploads, PUT ?partNumber&uploadId, POST ?uploadId, DELETE ?uploadId), list
(GET /{bucket}?list-type=2 with prefix, delimiter, start-after, continuation-token, max-keys),
PUT/HEAD/DELETE /{bucket}. No authentication. Objects live as files under ROOT/{bucket}/.
Python standard library only.
"""
import argparse
import base64
import bisect
import email.utils
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

CHUNK = 1 << 20
XML = "application/xml; charset=UTF-8"
# Response headers that carry object attributes as they were given on upload.
ATTR_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language")


class GcsError(Exception):
    def __init__(self, status, code, message, headers=()):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def not_found_key(key):
    return GcsError(404, "NoSuchKey", f"The specified key does not exist: {key}")


def precondition_failed():
    return GcsError(412, "PreconditionFailed",
                    "At least one of the pre-conditions you specified did not hold.")


def atomic_write_json(path, obj):
    tmp = f"{path}.tmp{threading.get_ident()}"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


class Store:
    """Buckets and objects: metadata in memory (and in ROOT/{bucket}/{hash}.json), data in files."""

    def __init__(self, root):
        self.root = root
        self.tmp_dir = os.path.join(root, ".tmp")
        self.uploads_dir = os.path.join(root, ".uploads")
        self.lock = threading.Lock()
        self.buckets = {}  # name -> {key: meta}
        self.sorted_keys = {}  # name -> sorted list of keys (cache; dropped on change)
        self.uploads = {}  # upload id -> {bucket, key, attrs}
        self.last_generation = 0
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        os.makedirs(self.tmp_dir)
        os.makedirs(self.uploads_dir, exist_ok=True)
        for name in sorted(os.listdir(root)):
            bdir = os.path.join(root, name)
            if name.startswith(".") or not os.path.isdir(bdir):
                continue
            objects = self.buckets[name] = {}
            for entry in os.listdir(bdir):
                if not entry.endswith(".json"):
                    continue
                try:
                    with open(os.path.join(bdir, entry)) as f:
                        meta = json.load(f)
                except (OSError, ValueError):
                    continue
                if os.path.exists(os.path.join(bdir, entry[:-5] + ".data")):
                    objects[meta["key"]] = meta
                    self.last_generation = max(self.last_generation, int(meta["generation"]))
        for upload_id in os.listdir(self.uploads_dir):
            try:
                with open(os.path.join(self.uploads_dir, upload_id, "upload.json")) as f:
                    self.uploads[upload_id] = json.load(f)
            except (OSError, ValueError):
                shutil.rmtree(os.path.join(self.uploads_dir, upload_id), ignore_errors=True)

    # -- helpers (call with the lock held where they touch shared state) --

    def paths(self, bucket, key):
        h = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        base = os.path.join(self.root, bucket, h)
        return base + ".data", base + ".json"

    def objects(self, bucket):
        try:
            return self.buckets[bucket]
        except KeyError:
            raise GcsError(404, "NoSuchBucket", f"The specified bucket does not exist: {bucket}")

    def next_generation(self):
        self.last_generation = max(self.last_generation + 1, time.time_ns() // 1000)
        return str(self.last_generation)

    def new_tmp(self):
        fd, path = tempfile.mkstemp(dir=self.tmp_dir)
        return os.fdopen(fd, "wb"), path

    @staticmethod
    def check_generation(current, if_generation_match):
        if if_generation_match is None:
            return
        if if_generation_match == "0":
            if current is not None:
                raise precondition_failed()
        elif current is None or current["generation"] != if_generation_match:
            raise precondition_failed()

    # -- buckets --

    def create_bucket(self, bucket):
        with self.lock:
            if bucket in self.buckets:
                raise GcsError(409, "BucketAlreadyOwnedByYou", f"Bucket {bucket} already exists.")
            os.makedirs(os.path.join(self.root, bucket), exist_ok=True)
            self.buckets[bucket] = {}

    def delete_bucket(self, bucket):
        with self.lock:
            if self.objects(bucket):
                raise GcsError(409, "BucketNotEmpty", f"The bucket {bucket} is not empty.")
            shutil.rmtree(os.path.join(self.root, bucket), ignore_errors=True)
            del self.buckets[bucket]
            self.sorted_keys.pop(bucket, None)

    # -- objects --

    def commit(self, bucket, key, tmp_path, size, md5, attrs, if_generation_match):
        """Move a fully written temp file into place as the new generation of bucket/key."""
        try:
            with self.lock:
                objects = self.objects(bucket)
                current = objects.get(key)
                self.check_generation(current, if_generation_match)
                data_path, meta_path = self.paths(bucket, key)
                meta = dict(attrs, key=key, size=size, md5=md5, etag=f'"{md5}"',
                            generation=self.next_generation(), updated=time.time())
                os.replace(tmp_path, data_path)
                atomic_write_json(meta_path, meta)
                if current is None:
                    self.sorted_keys.pop(bucket, None)
                objects[key] = meta
                return meta
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)

    def open(self, bucket, key, generation=None):
        """The metadata and an open file of bucket/key, consistent with each other."""
        with self.lock:
            meta = self.objects(bucket).get(key)
            if meta is None or (generation is not None and generation != meta["generation"]):
                raise not_found_key(key)
            return meta, open(self.paths(bucket, key)[0], "rb")

    def delete(self, bucket, key, if_generation_match=None):
        with self.lock:
            objects = self.objects(bucket)
            current = objects.get(key)
            if current is None:
                raise not_found_key(key)
            self.check_generation(current, if_generation_match)
            for path in self.paths(bucket, key):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
            del objects[key]
            self.sorted_keys.pop(bucket, None)

    def copy(self, src_bucket, src_key, bucket, key, if_generation_match):
        src_meta, src = self.open(src_bucket, src_key)
        with src:
            with self.lock:  # fail fast, before copying any data
                self.check_generation(self.objects(bucket).get(key), if_generation_match)
            out, tmp = self.new_tmp()
            with out:
                shutil.copyfileobj(src, out, CHUNK)
        attrs = {k: src_meta[k] for k in ("content_type", "headers", "metadata", "storage_class")
                 if k in src_meta}
        return self.commit(bucket, key, tmp, src_meta["size"], src_meta["md5"], attrs,
                           if_generation_match)

    def list(self, bucket, prefix, delimiter, start_after, token, max_keys):
        with self.lock:
            objects = self.objects(bucket)
            keys = self.sorted_keys.get(bucket)
            if keys is None:
                keys = self.sorted_keys[bucket] = sorted(objects)
            start = bisect.bisect_left(keys, prefix)
            if start_after:
                start = max(start, bisect.bisect_right(keys, start_after))
            if token:
                start = max(start, bisect.bisect_right(keys, token))
            contents, prefixes, last, truncated = [], [], None, False
            for i in range(start, len(keys)):
                k = keys[i]
                if not k.startswith(prefix):
                    break
                entry, common = k, False
                if delimiter:
                    cut = k.find(delimiter, len(prefix))
                    if cut >= 0:
                        entry, common = k[: cut + len(delimiter)], True
                if entry == last or (token and entry <= token):
                    continue
                if len(contents) + len(prefixes) >= max_keys:
                    truncated = True
                    break
                if common:
                    prefixes.append(entry)
                else:
                    contents.append(dict(objects[k]))
                last = entry
            return contents, prefixes, (last if truncated else None)

    # -- multipart uploads --

    def initiate(self, bucket, key, attrs):
        with self.lock:
            self.objects(bucket)
            upload_id = secrets.token_hex(16)
            os.makedirs(os.path.join(self.uploads_dir, upload_id))
            upload = dict(bucket=bucket, key=key, attrs=attrs)
            atomic_write_json(os.path.join(self.uploads_dir, upload_id, "upload.json"), upload)
            self.uploads[upload_id] = upload
            return upload_id

    def upload(self, bucket, key, upload_id):
        with self.lock:
            upload = self.uploads.get(upload_id)
            if upload is None or upload["bucket"] != bucket or upload["key"] != key:
                raise GcsError(404, "NoSuchUpload", f"No such upload: {upload_id}")
            return upload

    def put_part(self, bucket, key, upload_id, part_number, tmp_path, md5):
        try:
            self.upload(bucket, key, upload_id)
            os.replace(tmp_path, os.path.join(self.uploads_dir, upload_id, f"part-{part_number}"))
            with open(os.path.join(self.uploads_dir, upload_id, f"part-{part_number}.md5"), "w") as f:
                f.write(md5)
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)

    def complete(self, bucket, key, upload_id, parts, if_generation_match):
        upload = self.upload(bucket, key, upload_id)
        udir = os.path.join(self.uploads_dir, upload_id)
        out, tmp = self.new_tmp()
        md5, size = hashlib.md5(), 0
        with out:
            for number, etag in parts:
                path = os.path.join(udir, f"part-{number}")
                try:
                    with open(path + ".md5") as f:
                        part_md5 = f.read().strip()
                    part = open(path, "rb")
                except FileNotFoundError:
                    os.unlink(tmp)
                    raise GcsError(400, "InvalidPart", f"Part {number} was not uploaded.")
                if etag.strip('"') != part_md5:
                    part.close()
                    os.unlink(tmp)
                    raise GcsError(400, "InvalidPart", f"Part {number}: ETag {etag} does not match.")
                with part:
                    while chunk := part.read(CHUNK):
                        md5.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        meta = self.commit(bucket, key, tmp, size, md5.hexdigest(), upload["attrs"],
                           if_generation_match)
        self.abort(bucket, key, upload_id)
        return meta

    def abort(self, bucket, key, upload_id):
        self.upload(bucket, key, upload_id)
        with self.lock:
            self.uploads.pop(upload_id, None)
        shutil.rmtree(os.path.join(self.uploads_dir, upload_id), ignore_errors=True)


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def iso_date(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % (int(ts * 1000) % 1000)


def etag_matches(header, etag):
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/").strip('"') == etag.strip('"') for t in tags)


def parse_range(value, size):
    """(start, end) of a single `bytes=` range, None to serve the whole object; 416 if unsatisfiable."""
    spec = value.strip()
    if not spec.startswith("bytes=") or "," in spec:
        return None
    first, _, last = spec[6:].strip().partition("-")
    try:
        if first == "":
            n = int(last)
            start, end = max(size - n, 0), size
            ok = n > 0 and size > 0
        else:
            start = int(first)
            end = min(int(last) + 1, size) if last else size
            ok = start < size and start < end
    except ValueError:
        return None
    if not ok:
        raise GcsError(416, "InvalidRange", "The requested range cannot be satisfied.",
                       [("Content-Range", f"bytes */{size}")])
    return start, end


def parse_http_date(value):
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcs-emulator"
    timeout = 600
    store: Store = None
    verbose = False

    # -- plumbing --

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def log_request(self, code="-", size="-"):
        if self.verbose or (isinstance(code, int) and code >= 500):
            super().log_request(code, size)

    def parse_target(self):
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute form
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        raw_path, _, raw_query = target.partition("?")
        self.query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        bucket, _, key = raw_path.lstrip("/").partition("/")
        self.bucket = urllib.parse.unquote(bucket)
        self.key = urllib.parse.unquote(key)

    def q(self, name):
        values = self.query.get(name)
        return values[0] if values else None

    def read_body_chunks(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                remaining = size
                while remaining:
                    chunk = self.rfile.read(min(CHUNK, remaining))
                    if not chunk:
                        raise ConnectionError("client closed the connection mid-body")
                    remaining -= len(chunk)
                    yield chunk
                self.rfile.readline(3)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                chunk = self.rfile.read(min(CHUNK, remaining))
                if not chunk:
                    raise ConnectionError("client closed the connection mid-body")
                remaining -= len(chunk)
                yield chunk

    def body_to_tmp(self):
        out, tmp = self.store.new_tmp()
        md5, size = hashlib.md5(), 0
        try:
            with out:
                for chunk in self.read_body_chunks():
                    md5.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        except BaseException:
            os.unlink(tmp)
            raise
        self.body_read = True
        return tmp, size, md5.hexdigest()

    def body_bytes(self):
        data = b"".join(self.read_body_chunks())
        self.body_read = True
        return data

    def send(self, status, body=b"", content_type=XML, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def send_error_xml(self, err):
        body = ("<?xml version='1.0' encoding='UTF-8'?><Error><Code>%s</Code><Message>%s</Message>"
                "</Error>" % (escape(err.code), escape(err.message))).encode()
        self.send(err.status, body, headers=err.headers)

    def dispatch(self):
        self.body_read = False
        try:
            self.parse_target()
            handler = getattr(self, "route_" + self.command)
            handler()
        except GcsError as err:
            if not self.body_read and self.command in ("PUT", "POST"):
                self.close_connection = True
            self.send_error_xml(err)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
        except Exception as exc:  # a bug here: answer 500 and say what it was in the log
            self.log_message("error on %s %s: %r", self.command, self.path, exc)
            self.close_connection = True
            try:
                self.send_error_xml(GcsError(500, "InternalError", repr(exc)))
            except OSError:
                pass

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = dispatch

    def attrs_from_headers(self):
        h = self.headers
        return dict(
            content_type=h.get("Content-Type") or "application/octet-stream",
            headers={k: h[k] for k in ATTR_HEADERS if h.get(k) is not None},
            metadata={k[len("x-goog-meta-"):]: v for k, v in h.items()
                      if k.lower().startswith("x-goog-meta-")},
            storage_class=h.get("x-goog-storage-class") or "STANDARD",
        )

    def generation_match(self):
        value = self.headers.get("x-goog-if-generation-match")
        if value is not None and not value.strip().isdigit():
            raise GcsError(400, "InvalidArgument", f"Invalid x-goog-if-generation-match: {value}")
        return None if value is None else str(int(value))

    @staticmethod
    def object_headers(meta):
        yield "ETag", meta["etag"]
        yield "Last-Modified", http_date(meta["updated"])
        yield "x-goog-generation", meta["generation"]
        yield "x-goog-metageneration", "1"
        yield "x-goog-hash", "md5=" + base64.b64encode(bytes.fromhex(meta["md5"])).decode()
        yield "x-goog-storage-class", meta.get("storage_class", "STANDARD")

    # -- routes --

    def route_GET(self):
        if not self.bucket:
            names = sorted(self.store.buckets)
            body = ("<?xml version='1.0' encoding='UTF-8'?><ListAllMyBucketsResult><Buckets>"
                    + "".join(f"<Bucket><Name>{escape(n)}</Name></Bucket>" for n in names)
                    + "</Buckets></ListAllMyBucketsResult>")
            return self.send(200, body.encode())
        if not self.key:
            return self.list_objects()
        self.get_object()

    def route_HEAD(self):
        if not self.bucket:
            return self.send(200)
        if not self.key:
            with self.store.lock:
                self.store.objects(self.bucket)
            return self.send(200)
        self.get_object()

    def get_object(self):
        generation = self.q("generation")
        meta, f = self.store.open(self.bucket, self.key, generation)
        with f:
            h = self.headers
            etag, updated = meta["etag"], int(meta["updated"])
            headers = list(self.object_headers(meta))
            if h.get("If-Match") and not etag_matches(h["If-Match"], etag):
                raise precondition_failed()
            since = parse_http_date(h.get("If-Unmodified-Since"))
            if since is not None and updated > since:
                raise precondition_failed()
            if h.get("If-None-Match"):
                if etag_matches(h["If-None-Match"], etag):
                    return self.send(304, headers=headers)
            else:
                since = parse_http_date(h.get("If-Modified-Since"))
                if since is not None and updated <= since:
                    return self.send(304, headers=headers)
            size = meta["size"]
            start, end, status = 0, size, 200
            if self.command == "GET" and h.get("Range"):
                byte_range = parse_range(h["Range"], size)
                if byte_range is not None:
                    (start, end), status = byte_range, 206
                    headers.append(("Content-Range", f"bytes {start}-{end - 1}/{size}"))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Type", meta.get("content_type") or "application/octet-stream")
            self.send_header("Content-Length", str(end - start))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("x-goog-stored-content-length", str(size))
            self.send_header("x-goog-stored-content-encoding",
                             meta.get("headers", {}).get("content-encoding", "identity"))
            for k, v in meta.get("headers", {}).items():
                self.send_header(k, v)
            for k, v in meta.get("metadata", {}).items():
                self.send_header("x-goog-meta-" + k, v)
            self.end_headers()
            if self.command == "HEAD":
                return
            f.seek(start)
            remaining = end - start
            while remaining:
                chunk = f.read(min(CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def list_objects(self):
        prefix = self.q("prefix") or ""
        delimiter = self.q("delimiter") or ""
        start_after = self.q("start-after") or self.q("marker") or ""
        token = ""
        if self.q("continuation-token"):
            try:
                token = base64.urlsafe_b64decode(self.q("continuation-token").encode()).decode()
            except ValueError:
                raise GcsError(400, "InvalidArgument", "Invalid continuation-token")
        try:
            max_keys = min(int(self.q("max-keys") or 1000), 1000)
        except ValueError:
            raise GcsError(400, "InvalidArgument", "Invalid max-keys")
        if max_keys <= 0:
            max_keys = 1000
        contents, prefixes, next_token = self.store.list(
            self.bucket, prefix, delimiter, start_after, token, max_keys)
        parts = ["<?xml version='1.0' encoding='UTF-8'?>",
                 '<ListBucketResult xmlns="http://doc.s3.amazonaws.com/2006-03-01">',
                 f"<Name>{escape(self.bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
                 f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        if start_after:
            parts.append(f"<StartAfter>{escape(start_after)}</StartAfter>")
        parts.append(f"<IsTruncated>{'true' if next_token is not None else 'false'}</IsTruncated>")
        if next_token is not None:
            encoded = base64.urlsafe_b64encode(next_token.encode()).decode()
            parts.append(f"<NextContinuationToken>{encoded}</NextContinuationToken>")
        for m in contents:
            parts.append(f"<Contents><Key>{escape(m['key'])}</Key><Generation>{m['generation']}"
                         f"</Generation><MetaGeneration>1</MetaGeneration><LastModified>"
                         f"{iso_date(m['updated'])}</LastModified><ETag>{escape(m['etag'])}</ETag>"
                         f"<Size>{m['size']}</Size><StorageClass>{m.get('storage_class', 'STANDARD')}"
                         f"</StorageClass></Contents>")
        for p in prefixes:
            parts.append(f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        self.send(200, "".join(parts).encode())

    def route_PUT(self):
        if not self.bucket:
            raise GcsError(400, "InvalidURI", "No bucket in the request.")
        if not self.key:
            self.body_bytes()
            self.store.create_bucket(self.bucket)
            return self.send(200)
        upload_id = self.q("uploadId")
        if upload_id is not None:
            number = self.q("partNumber") or ""
            if not number.isdigit() or not 1 <= int(number) <= 10000:
                raise GcsError(400, "InvalidArgument", f"Invalid partNumber: {number}")
            tmp, _, md5 = self.body_to_tmp()
            self.store.put_part(self.bucket, self.key, upload_id, int(number), tmp, md5)
            return self.send(200, headers=[("ETag", f'"{md5}"')])
        source = self.headers.get("x-goog-copy-source")
        if source is not None:
            self.body_bytes()
            src_bucket, _, src_key = source.lstrip("/").partition("/")
            src_key = src_key.partition("?")[0]
            meta = self.store.copy(urllib.parse.unquote(src_bucket), urllib.parse.unquote(src_key),
                                   self.bucket, self.key, self.generation_match())
            body = ("<?xml version='1.0' encoding='UTF-8'?><CopyObjectResult><LastModified>%s"
                    "</LastModified><ETag>%s</ETag></CopyObjectResult>"
                    % (iso_date(meta["updated"]), escape(meta["etag"]))).encode()
            return self.send(200, body, headers=list(self.object_headers(meta)))
        if_generation_match = self.generation_match()
        tmp, size, md5 = self.body_to_tmp()
        meta = self.store.commit(self.bucket, self.key, tmp, size, md5, self.attrs_from_headers(),
                                 if_generation_match)
        self.send(200, headers=list(self.object_headers(meta)))

    def route_POST(self):
        if not self.bucket or not self.key:
            raise GcsError(501, "NotImplemented", "Only multipart-upload POSTs are supported.")
        if self.q("uploads") is not None:
            self.body_bytes()
            upload_id = self.store.initiate(self.bucket, self.key, self.attrs_from_headers())
            body = ("<?xml version='1.0' encoding='UTF-8'?><InitiateMultipartUploadResult>"
                    "<Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId>"
                    "</InitiateMultipartUploadResult>"
                    % (escape(self.bucket), escape(self.key), upload_id)).encode()
            return self.send(200, body)
        upload_id = self.q("uploadId")
        if upload_id is None:
            raise GcsError(501, "NotImplemented", "Only multipart-upload POSTs are supported.")
        if_generation_match = self.generation_match()
        data = self.body_bytes()
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            raise GcsError(400, "MalformedXML", f"CompleteMultipartUpload: {exc}")
        parts = []
        for part in root.iter():
            if part.tag.rpartition("}")[2] != "Part":
                continue
            fields = {c.tag.rpartition("}")[2]: (c.text or "") for c in part}
            if not fields.get("PartNumber", "").strip().isdigit():
                raise GcsError(400, "MalformedXML", "Part without a PartNumber")
            parts.append((int(fields["PartNumber"]), fields.get("ETag", "")))
        if not parts:
            raise GcsError(400, "MalformedXML", "CompleteMultipartUpload lists no parts")
        meta = self.store.complete(self.bucket, self.key, upload_id, parts, if_generation_match)
        body = ("<?xml version='1.0' encoding='UTF-8'?><CompleteMultipartUploadResult>"
                "<Location>/%s/%s</Location><Bucket>%s</Bucket><Key>%s</Key><ETag>%s</ETag>"
                "</CompleteMultipartUploadResult>"
                % (escape(urllib.parse.quote(self.bucket)), escape(urllib.parse.quote(self.key)),
                   escape(self.bucket), escape(self.key), escape(meta["etag"]))).encode()
        self.send(200, body, headers=list(self.object_headers(meta)))

    def route_DELETE(self):
        self.body_bytes()
        if not self.bucket:
            raise GcsError(400, "InvalidURI", "No bucket in the request.")
        if not self.key:
            self.store.delete_bucket(self.bucket)
            return self.send(204)
        upload_id = self.q("uploadId")
        if upload_id is not None:
            self.store.abort(self.bucket, self.key, upload_id)
            return self.send(204)
        self.store.delete(self.bucket, self.key, self.generation_match())
        self.send(204)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4443)
    p.add_argument("--root", required=True, help="data folder: one sub-folder per bucket")
    p.add_argument("--bucket", action="append", default=[], help="create this bucket if missing")
    p.add_argument("--verbose", action="store_true", help="log every request")
    args = p.parse_args()
    os.makedirs(args.root, exist_ok=True)
    store = Store(os.path.abspath(args.root))
    for bucket in args.bucket:
        if bucket not in store.buckets:
            store.create_bucket(bucket)
    Handler.store, Handler.verbose = store, args.verbose
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"gcs emulator listening on http://{args.host}:{args.port}, data {args.root}, "
          f"buckets {', '.join(sorted(store.buckets)) or '-'}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
