# The Python original of examples/subprocess.rs (seed 002's listing 12-9 and
# seed 000's subprocess section, with local commands in place of `ls -l` and
# `nslookup`). `python3 examples/expected/subprocess.py > examples/expected/subprocess.txt`
import sys

# This file is named subprocess.py: keep its own directory off the path, or
# `import subprocess` would import this file.
sys.path.pop(0)

import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

# Seed 002, listing 12-9: run() with stdout=PIPE.
results = subprocess.run(['sh', '-c', 'printf "pear\\napple\\nfig\\n" | sort'], stdout=subprocess.PIPE)
print(results.stdout)
print('Exit code:', results.returncode)

# Seed 000: call() lets the child write to our stdout.
print('$ echo www.python.org', flush=True)
r = subprocess.call(['echo', 'www.python.org'])
print('Exit code:', r)

# Seed 000: Popen(...).communicate(input).
print('$ tr a-z A-Z')
p = subprocess.Popen(['tr', 'a-z', 'A-Z'], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
output, err = p.communicate(b'set q=mx\npython.org\nexit\n')
print(output.decode('utf-8'))
print('Exit code:', p.returncode)

# Three children at once: the total is about the longest, not the sum.
start = time.monotonic()
threads = [threading.Thread(target=subprocess.call, args=(['sleep', s],)) for s in ['0.3', '0.2', '0.1']]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f'three children (0.3 + 0.2 + 0.1 s) took {time.monotonic() - start:.2f} s', file=sys.stderr)
