"""Certificates made at test time with the openssl command line: a test CA, server certificates
(with an OCSP responder named in them, and an OCSP response from the CA), client certificates
(good, from another CA, expired), and small helpers to run `openssl s_client`.

Nothing here is kept: every Pki lives in a temporary directory of the test."""
import os
import re
import ssl
import subprocess
import time

OPENSSL = "openssl"


def run(*args, input=None, timeout=30):
    r = subprocess.run([OPENSSL, *args], input=input, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
    return r


class Pki:
    def __init__(self, directory):
        self.d = str(directory)
        os.makedirs(self.d, exist_ok=True)
        self.ca, self.ca_key = self._ca("ca", "statusd test CA")
        self.other_ca, self.other_ca_key = self._ca("other-ca", "an authority statusd does not trust")
        self._serial = 0x1000  # `openssl ca`'s serial file (expired_client)

    def path(self, name):
        return os.path.join(self.d, name)

    def _ca(self, name, cn):
        key, crt = self.path(name + ".key"), self.path(name + ".pem")
        run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", crt, "-days", "365", "-subj", "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature")
        return crt, key

    def _csr(self, name, cn, exts):
        key, csr = self.path(name + ".key"), self.path(name + ".csr")
        args = ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                "-subj", "/CN=" + cn]
        for e in exts:
            args += ["-addext", e]
        run(*args)
        return key, csr

    def _sign(self, csr, out, ca, ca_key, days=30):
        # 16 random bytes, positive (as CAs make them: CA/B Forum, at least 64 bits of entropy)
        serial = "0x%02x%s" % (os.urandom(1)[0] & 0x7F | 0x10, os.urandom(15).hex())
        run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", serial, "-days",
            str(days), "-copy_extensions", "copy", "-out", out)

    def server(self, name, names=("localhost",), ips=("127.0.0.1",), ocsp=True, rsa=False):
        """A server certificate for the names: returns (chain file: leaf then CA, key file)."""
        sans = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
        exts = ["subjectAltName=" + sans, "extendedKeyUsage=serverAuth", "keyUsage=critical,digitalSignature"]
        if ocsp:
            exts.append("authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp")
        if rsa:
            key, csr = self.path(name + ".key"), self.path(name + ".csr")
            args = ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + names[0]]
            for e in exts:
                args += ["-addext", e.replace("digitalSignature", "digitalSignature,keyEncipherment")]
            run(*args)
        else:
            key, csr = self._csr(name, names[0], exts)
        leaf = self.path(name + ".leaf.pem")
        self._sign(csr, leaf, self.ca, self.ca_key, days=90)  # Let's Encrypt's lifetime
        chain = self.path(name + ".pem")
        with open(chain, "wb") as out:
            for f in (leaf, self.ca):
                with open(f, "rb") as inp:
                    out.write(inp.read())
        return chain, key

    def client(self, name, trusted=True):
        key, csr = self._csr(name, name, ["extendedKeyUsage=clientAuth"])
        crt = self.path(name + ".pem")
        if trusted:
            self._sign(csr, crt, self.ca, self.ca_key)
        else:
            self._sign(csr, crt, self.other_ca, self.other_ca_key)
        return crt, key

    def expired_client(self, name):
        """A client certificate from the test CA that expired in 2020 (`openssl ca` sets the dates)."""
        return self._expired(name, name, ["extendedKeyUsage=clientAuth"])

    def expired_server(self, name, ips=("127.0.0.1",), names=("localhost",)):
        """A server certificate from the test CA for the names, expired in 2020: (cert, key)."""
        sans = ",".join(["DNS:" + n for n in names] + ["IP:" + i for i in ips])
        return self._expired(name, names[0], ["subjectAltName=" + sans, "extendedKeyUsage=serverAuth",
                                              "keyUsage=critical,digitalSignature"])

    def _expired(self, name, cn, exts):
        key, csr = self._csr(name, cn, exts)
        db = self.path("ca-db")
        os.makedirs(os.path.join(db, "new"), exist_ok=True)
        open(os.path.join(db, "index.txt"), "a").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("%X\n" % (0x9000 + self._serial))
        cnf = os.path.join(db, "ca.cnf")
        with open(cnf, "w") as f:
            f.write("""[ca]
default_ca = test
[test]
database = %s/index.txt
new_certs_dir = %s/new
serial = %s/serial
certificate = %s
private_key = %s
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
""" % (db, db, db, self.ca, self.ca_key))
        crt = self.path(name + ".pem")
        run("ca", "-batch", "-config", cnf, "-in", csr, "-out", crt, "-notext", "-startdate", "20200101000000Z",
            "-enddate", "20200201000000Z")
        return crt, key

    def ocsp_response(self, chain, name):
        """A DER OCSP response from the CA saying the certificate (first in `chain`) is good."""
        leaf = self.path(name + ".leaf.pem")
        serial = run("x509", "-in", leaf, "-noout", "-serial").stdout.decode().strip().split("=")[1]
        expiry = time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() + 30 * 86400))
        index = self.path(name + ".ocsp-index.txt")
        with open(index, "w") as f:
            f.write("V\t%s\t\t%s\tunknown\t/CN=%s\n" % (expiry, serial, name))
        out = self.path(name + ".ocsp.der")
        run("ocsp", "-index", index, "-rsigner", self.ca, "-rkey", self.ca_key, "-CA", self.ca, "-issuer", self.ca,
            "-cert", leaf, "-respout", out, "-ndays", "1")
        return out

    def context(self, **kw):
        """A Python client context trusting the test CA."""
        ctx = ssl.create_default_context(cafile=self.ca)
        for k, v in kw.items():
            setattr(ctx, k, v)
        return ctx


def s_client(port, *args, data=b"", timeout=20):
    """openssl s_client against 127.0.0.1:port; data is written after the handshake (-ign_eof
    keeps it reading the answer). Returns (returncode, stdout+stderr as text)."""
    cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, "-ign_eof", *args]
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode("latin-1")


def status_of(text):
    m = re.search(r"HTTP/1\.1 (\d{3})", text)
    return int(m.group(1)) if m else None
