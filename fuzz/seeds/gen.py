#!/usr/bin/env python3
"""Writes the committed seed corpus (fuzz/seeds/<target>/) from the protocol and chain vectors,
in the byte format of fuzz/harness (a byte picks an operation, a length byte prefixes text;
254 is followed by a two-byte length, 255 takes the rest). Run from anywhere: python3 fuzz/seeds/gen.py"""
import base64, hashlib, json, os, re, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
vectors = json.load(open(os.path.join(ROOT, "tests/data/vectors.json")))
chains = json.load(open(os.path.join(ROOT, "tests/data/chain-vectors.json")))
fixture = lambda n: open(os.path.join(ROOT, "tests/fixtures", n), "rb").read()

def text(s):
    b = s.encode() if isinstance(s, str) else s
    if len(b) < 254:
        return bytes([len(b)]) + b
    assert len(b) < 65536, s
    return bytes([254, len(b) >> 8, len(b) & 0xFF]) + b

def u16(n):
    return bytes([n >> 8, n & 0xFF])

seeds = {t: [] for t in ["chain", "template", "verifier", "notification", "keys", "v2_xml"]}

# chain: [op text]* then a method byte. op%4: 0 seg, 1 chain, 2 raw, 3 index.
for c in chains["chains"]:
    if "segments" in c:
        seeds["chain"].append(b"".join(b"\x00" + text(s) for s in c["segments"]) + b"\x00")
    if "chain" in c:
        seeds["chain"].append(b"\x01" + text(c["chain"]) + b"\x01")
for v in chains["verbatim"]:
    seeds["chain"].append(b"\x03" + text(v["chain"]) + b"\x00")
for e in chains["errors"]:
    s = e.get("chain") or e.get("url")
    seeds["chain"].append(b"\x01" + text(s) + b"\x00")
for name, _ in chains["normalize"]:
    seeds["chain"].append(b"\x01" + text("v3") + b"\x00" + text(name) + b"\x02" + text("P1 a/b") + b"\x00")

# template: template, nvars, (name, kind, value)*, query mode, [query], method, base, style, body
def string(s):
    return b"\x05" + text(s)

def template(t, vars=(), query=None, qstring=None, method=0, base=0, php=0, body=b""):
    out = text(t) + bytes([len(vars)])
    for name, value in vars:
        out += text(name) + value
    if query is not None:
        out += b"\x01" + bytes([len(query)]) + b"".join(text(k) + v for k, v in query)
    elif qstring is not None:
        out += b"\x02" + text(qstring)
    else:
        out += b"\x00"
    return out + bytes([method, base, php]) + body

T = seeds["template"]
T.append(template("v3/pay/transactions/id/{transaction_id}", [("transaction_id", string("4200000000202511220000000001"))], query=[("mchid", string("1900000109"))]))
T.append(template("v3/merchant-service/images/{+media_id}", [("media_id", string("AIO%2FFR1p/x y"))]))
T.append(template("v3/x/{a}/{b}", [("a", string("A/B C\u4e2d%2F?#")), ("b", b"\x02" + u16(1012))], php=1))
T.append(template("v3/x?from=chain", qstring="a=1&b=%20"))
T.append(template("v3/pay/transactions/native", method=1, body=b'{"appid":"wxd678efh567hg6787"}'))
T.append(template("v3/global/statements", base=1, query=[("date", string("2025-11-22")), ("n", b"\x00")]))
T.append(template("{+download_url}", [("download_url", string("https://api.mch.weixin.qq.com/v3/billdownload/file?token=x"))]))
T.append(template("v3/pay/transactions/out-trade-no/{out_trade_no}", [("out_trade_no", string(""))], base=2, php=1))
for c in chains["chains"]:
    opts = c.get("options", {})
    vars = [(k, string(v)) for k, v in opts.items() if isinstance(v, str) and k not in ("json", "body", "base_uri")]
    q = opts.get("query")
    query = [(k, string(str(v))) for k, v in q.items()] if isinstance(q, dict) else None
    T.append(template(c["chain"], vars, query=query, method=0 if "json" not in opts else 1,
                      body=json.dumps(opts["json"]).encode() if "json" in opts else b""))

# verifier/notification: raw [0][count][(name index, value)*][u16 clock delta + 32768]...
NAMES = ["Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial",
         "Wechatpay-Signature-Type", "Wechatpay-Statement-Sha1", "Request-ID"]

def headers(h):
    out = bytes([len(h)])
    for k, v in h.items():
        out += bytes([NAMES.index(k)]) + text(v) if k in NAMES else b"\xf0" + text(k) + text(v)
    return out

def valid(section):
    return [v for v in vectors[section] if v["expect"] == "ok" and "Wechatpay-Signature" in v["headers"]]

for v in vectors["responses"]:
    delta = v["now"] - 1_763_780_100 + 32768
    seeds["verifier"].append(b"\x00" + headers(v["headers"]) + u16(delta) + b"\x00\x00" + v["body"].encode())
for i, v in enumerate(valid("responses")):
    seeds["verifier"].append(bytes([1, i, 0]))
    seeds["verifier"].append(bytes([1, i, 1, 0, 0x20]) + u16(3))             # flip a body byte
    seeds["verifier"].append(bytes([1, i, 1, 5, 2, 1]) + text("AAAA"))     # duplicate signature
    seeds["verifier"].append(bytes([1, i, 1, 3, 0]) + text("01763780100"))  # same second, other text
for v in vectors["notifications"]:
    delta = v["now"] - 1_763_780_200 + 32768
    seeds["notification"].append(b"\x00" + headers(v["headers"]) + u16(delta) + v["body"].encode())
for i, v in enumerate(valid("notifications")):
    for mode in range(4):
        seeds["notification"].append(bytes([1, i, mode]) + u16(5) + b"\x01" + bytes([0]))
# notification, signed mode: [3][vector][op][(field index, kind, value)*] (kinds: 0 remove,
# 1 number, 2+ text; op%8 == 7: the rest is the whole body), signed correctly by the harness.
for i, v in enumerate(valid("notifications")):
    N = seeds["notification"]
    N.append(bytes([3, i, 7]) + v["body"].encode())                      # untouched
    N.append(bytes([3, i, 0, 4, 2]) + text(json.loads(v["body"])["summary"]))  # same summary
    N.append(bytes([3, i, 0, 6, 2]) + text("AEAD_AES_128_CBC"))          # algorithm
    N.append(bytes([3, i, 0, 8, 2]) + text("short"))                     # nonce length
    N.append(bytes([3, i, 0, 0, 0]))                                     # no id
    N.append(bytes([3, i, 0, 9, 1]) + u16(5))                            # aad not a string
    N.append(bytes([3, i, 1, 7, 2]) + text("AAAA") + bytes([5, 0]))      # truncated, no resource

# keys: [mode][bytes]; mode%4: 0 private, 1 public PEM, 2 SPKI DER, 3 certificate;
# mode%8 >= 4 wraps the bytes in a PEM block labelled LABELS[mode/8 % 5].
def der(pem):
    body = re.sub(rb"-----[^-]+-----", b"", pem)
    return base64.b64decode(b"".join(body.split()))

K = seeds["keys"]
for name in ["apiclient_key.pem", "apiclient_key.pkcs1.pem", "invalid/rsa1024_key.pem", "invalid/ec_p256_key.pem"]:
    K.append(b"\x00" + fixture(name))
for name in ["pub_key.pem", "pub_key.pkcs1.pem", "invalid/rsa1024_pub.pem", "invalid/ec_p256_pub.pem"]:
    K.append(b"\x01" + fixture(name))
K.append(b"\x02" + der(fixture("pub_key.pem")))
K.append(b"\x03" + fixture("wechatpay_5157F09EFDC096DE15EBE81A47057A7232F1B8E1.pem"))
K.append(b"\x03" + fixture("apiclient_cert.pem"))
K.append(bytes([4 + 8 * 0]) + der(fixture("apiclient_key.pem")))
K.append(bytes([4 + 8 * 1]) + der(fixture("apiclient_key.pkcs1.pem")))
K.append(bytes([5 + 8 * 2]) + der(fixture("pub_key.pem")))
K.append(bytes([5 + 8 * 3]) + der(fixture("pub_key.pkcs1.pem")))
K.append(bytes([7 + 8 * 4]) + der(fixture("apiclient_cert.pem")))

# v2_xml: raw XML documents, from the APIv2 vectors (valid, refused and written ones).
apiv2 = json.load(open(os.path.join(ROOT, "tests/data/apiv2-vectors.json")))
X = seeds["v2_xml"]
X.extend(c["input"].encode() for c in apiv2["from_xml"])
X.extend(c["expected"].encode() for c in apiv2["to_xml"])
X.extend(c["xml"].encode() for c in apiv2["requests"] if "xml" in c)
X.append(apiv2["ack"]["expected"].encode())
flat_xml = lambda m: ("<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in m.items()) + "</xml>").encode()
N2 = apiv2["notifications"]
for name in ["payment_md5", "payment_hmac"]:
    X.append(flat_xml({**N2[name]["fields"], "sign": N2[name]["sign"]}))
X.append(flat_xml({"return_code": "SUCCESS", "mch_id": "10000100", "req_info": N2["refund"]["req_info"]}))

for target, items in seeds.items():
    folder = os.path.join(HERE, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for data in items:
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
            f.write(data)
    print(target, len(set(items)))
