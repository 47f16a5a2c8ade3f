#!/bin/sh
# make-keys.sh [DIR] - makes a fresh set of test keys for wxrecon-sim and the
# tests (default DIR: fixtures/keys). Never use these for real money.
set -eu
dir=${1:-fixtures/keys}
mkdir -p "$dir"
cd "$dir"
umask 077
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out apiclient_key.pem 2>/dev/null
openssl req -new -x509 -key apiclient_key.pem -out apiclient_cert.pem -days 3650 \
	-subj "/C=CN/O=wxrecon test merchant/CN=1900000001" \
	-set_serial 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out wechatpay_key.pem 2>/dev/null
openssl pkey -in wechatpay_key.pem -pubout -out pub_key.pem
openssl req -new -x509 -key wechatpay_key.pem -out wechatpay_cert.pem -days 3650 \
	-subj "/C=CN/O=wxrecon-sim platform/CN=Tenpay.com sign" \
	-set_serial 0x3C4F1E2D5A6B7C8D9E0F1A2B3C4D5E6F70819203
printf 'PUB_KEY_ID_0119000000012024000000000000' > pub_key_id.txt
printf '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' > merchant_serial.txt
printf '3C4F1E2D5A6B7C8D9E0F1A2B3C4D5E6F70819203' > wechatpay_cert_serial.txt
# 32 printable bytes from the CSPRNG
openssl rand -base64 48 | tr -dc 'A-Za-z0-9' | head -c 32 > apiv3.key
chmod 644 apiclient_cert.pem pub_key.pem wechatpay_cert.pem *.txt apiv3.key
echo "keys written to $dir"
