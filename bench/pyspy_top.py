import collections
import re
import sys

path = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
only = sys.argv[3] if len(sys.argv) > 3 else None
selfc = collections.Counter()
incl = collections.Counter()
threads = collections.Counter()
total = 0


def tname(t):
    m = re.search(r": (.*)$", t)
    n = m.group(1) if m else "unnamed"
    if n == "ThreadPoolExecutor-0_0":
        return "db-thread (sync_to_async thread_sensitive, ThreadPoolExecutor-0_0)"
    n = re.sub(r"\d+", "N", n)
    return n


for line in open(path):
    line = line.rstrip()
    if not line:
        continue
    stack, _, n = line.rpartition(" ")
    n = int(n)
    frames = stack.split(";")
    th = tname(frames[0])
    frames = frames[1:]
    if only and only not in th:
        continue
    threads[th] += n
    total += n
    if not frames:
        continue

    def norm(f):
        return re.sub(r":\d+\)$", ")", f)

    selfc[norm(frames[-1])] += n
    for f in set(norm(f) for f in frames):
        incl[f] += n
print("total", total)
for t, n in threads.most_common():
    print(f"{n:6d} {100 * n / total:5.1f}% {t}")
print("--- self")
for f, n in selfc.most_common(top):
    print(f"{n:6d} {100 * n / total:5.1f}% {f}")
print("--- inclusive")
for f, n in incl.most_common(top * 2):
    print(f"{n:6d} {100 * n / total:5.1f}% {f}")
