#!/bin/sh
# wxrecon notify serve under slow clients (issue 20 item 6): 70 connections that
# trickle their headers from one address cannot starve genuine notifications (a
# cap per address, many slots, an idle timeout), and a body that trickles in is
# closed once it is NOTIFY_BODY_DEADLINE_S late. The attackers come from
# 127.0.0.2 and 127.0.0.3 (loopback); the simulator delivers from 127.0.0.1.
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-payflow.sh"

pf_setup || exit 1
test_when_finished notify_kill
notify_start || exit 1
NOWHERE=http://127.0.0.1:9/wxpay/notify

cat >slow.py <<'PY'
# slow.py MODE PORT SECONDS: MODE headers = 70 connections from 127.0.0.2, each
# sending one more header line every 2 s; MODE body = one connection from 127.0.0.3
# whose body (Content-Length 100) comes a byte a second. Prints what it saw.
import socket, sys, time
mode, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + seconds
if mode == "headers":
    socks = []
    for i in range(70):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"POST /wxpay/notify HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            s.close()
    open("slow.ready", "w").write("%d\n" % len(socks))
    n = 0
    while time.time() < end:
        time.sleep(2)
        n += 1
        for s in list(socks):
            try:
                s.sendall(b"X-Slow-%d: a\r\n" % n)
            except OSError:
                socks.remove(s)
    print("open at the end:", len(socks))
else:
    s = socket.socket()
    s.bind(("127.0.0.3", 0))
    s.settimeout(seconds)
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /wxpay/notify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n")
    t0 = time.time()
    got = b""
    s.setblocking(False)
    closed = False
    while time.time() < end and not closed:
        try:
            s.send(b"a")
        except OSError:
            closed = True
        time.sleep(1)
        try:
            closed = closed or s.recv(4096) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed = True
    print("closed:", closed)
    print("after: %d s" % round(time.time() - t0))
PY

# ORD-SL-1..3 paid at the simulator, whose own delivery goes nowhere (port 9)
for i in 1 2 3; do
	wxrecon order create --out-trade-no ORD-SL-$i --amount 100 --description d \
		--notify-url $NOWHERE >/dev/null 2>&1
	sim_admin POST /_sim/orders/ORD-SL-$i/pay '{}' >/dev/null
done

test_expect_success 'setup: 70 slow connections from one address trickle their headers' '
	{ python3 slow.py headers $NOTIFY_PORT 16 >slow.out 2>&1 & } &&
	for i in $(seq 100); do test -s slow.ready && break; sleep 0.1; done &&
	test -s slow.ready && sleep 1
'
for i in 1 2 3; do
	test_expect_success "beside them, notification $i is answered 204 within 5 s" "
		t0=\$(date +%s%N) &&
		sim_admin POST /_sim/notify '{\"out_trade_no\":\"ORD-SL-$i\",\"url\":\"$NOTIFY_URL\",\"sync\":true}' >n.json &&
		t1=\$(date +%s%N) &&
		test \"\$(jget status n.json)\" = 204 &&
		test \$(( (t1 - t0) / 1000000 )) -lt 5000 &&
		test \"\$(db 'SELECT state FROM ledger_orders WHERE out_trade_no = \"ORD-SL-$i\"')\" = PAID
	"
done
test_expect_success 'the slow address was capped, and its silent connections dropped' '
	for i in $(seq 200); do grep -q "^open at the end" slow.out && break; sleep 0.1; done &&
	cat slow.ready slow.out &&
	grep -q "^open at the end: [0-9]" slow.out &&
	test "$(sed -n "s/^open at the end: //p" slow.out)" -le 8
'
test_expect_success 'a body that trickles in is cut off after the deadline' '
	python3 slow.py body $NOTIFY_PORT 15 >body.out 2>&1 && cat body.out &&
	grep -q "^closed: True" body.out &&
	after=$(sed -n "s/^after: \([0-9]*\) s/\1/p" body.out) &&
	test "$after" -ge 4 && test "$after" -le 8 &&
	grep -q "sent its body too slowly" notify.err
'
test_expect_success 'notify serve is still up and answering' '
	kill -0 "$NOTIFY_PID" &&
	code=$(curl -s -o /dev/null -w "%{http_code}" "$NOTIFY_URL") && test "$code" = 405
'
test_done
