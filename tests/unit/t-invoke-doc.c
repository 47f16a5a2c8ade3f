/*
 * t-invoke-doc.c - the signatures WeChat Pay's documentation publishes for its
 * example key (fixtures/vectors/doc_test_key.pem, see the README there):
 * the invoke signature of its JSAPI example and the request signature of its
 * POST example, reproduced byte for byte by our signer; and the APP layout
 * (bare prepay_id on line 4) checked against the same key.
 */
#include "tap.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "wx/crypto.h"
#include "wx/wxpay_int.h"
#include "wxpay.h"

#define DOC_INVOKE_SIG                                                                             \
	"mI35pfNEQV6777ke/1T+LJLQDNTm7yeoUJH+j/"                                                   \
	"adPGhmCCi0PbgkvYQTRcXH0uibcLVtvFLdGLpmoYO9FV6lBBsTAj"                                     \
	"uhh5YOvQi0e2g3e0yytitiNET9FEuqM0pjnKfRW4K6LIZDdbWJv9KhZUx3DrJa5TL7OJ7VdADVivxVySIlPVKjGw" \
	"uC"                                                                                       \
	"XzuXSJes0UcILgWQUMyha5/"                                                                  \
	"3nYofuHtS7r+KYyMuxD+oJ9VM1Qdxk4UIG59CP5Y3wtYIFybyF3bdu1caHTRRX+DLyM"                      \
	"XyYA/IrTmiW01c4RPjpHBX5Dk1sZyY1zVsWNsvMHr2e1NTWtBxKJ+qk5N61J7caYoepHFaxw=="

#define DOC_REQUEST_SIG                                                                            \
	"jnks4dlrPw3ZX+ozVvSK39oa0t7OMBsg83BHAwd8BRdUFiVaQNTLTvci+"                                \
	"wURgP1OQBbKYhFGvt7iqYpDSTQkp7Uq1s"                                                        \
	"ltaQKyncCyrA1g88m5bsKERQfPyT0ahSwKTYJ1CAn9QiJuSJRq1QsQs07eehbU/k9BCS51jTyc1Jpsi2H77HF9f/" \
	"Bn"                                                                                       \
	"jXAOP3/"                                                                                  \
	"sPObg6V5Ee4EzwLox684hhuMuIwHo7D8KFk3LIHOKDcNI4It1aCXydFWNpNK+SG86VUDe5kwoDpw4Ulqfu9"      \
	"z8OFDGbDs9TCxEv8iqQzbpxOlEVoOe2kalSYM5kApQb3nZcxdUtoE0liJGW3RGUNE0t4v01A=="

#define DOC_BODY                                                                                       \
	"{\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1900007291\",\"description\":"                  \
	"\"Image形象店-深圳"                                                                      \
	"腾大-QQ公仔\",\"out_trade_no\":\"1217752501201407033233368018\",\"notify_url\":\"https:/" \
	"/"                                                                                            \
	"www.weixin.qq.com/wxpay/"                                                                     \
	"pay.php\",\"amount\":{\"total\":100,\"currency\":\"CNY\"},\"payer\":"                         \
	"{\"openid\":\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"}}"

int main(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct wxpay_config cfg;
	struct wxpay *w;
	struct wxpay_app_invoke a;
	size_t len = 0;
	char *pem = t_slurp("fixtures/vectors/doc_test_key.pem", &len);
	char *auth = NULL;
	char *sig = NULL;

	if (!ok(pem != NULL, "the documentation's key is there"))
		return done_testing();
	memset(&cfg, 0, sizeof(cfg));
	cfg.mchid = "1900007291";
	cfg.appid = "wx2421b1c4370ec43b";
	cfg.serial_no = "408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB";
	cfg.private_key_pem = pem;
	cfg.private_key_pem_len = len;
	cfg.base_url = "http://127.0.0.1:1";
	w = wxpay_new(&cfg, &err);
	if (!ok(w != NULL, "client with the documentation's key"))
		diag("%s", err.msg);
	if (!w)
		return done_testing();

	/* The published JSAPI example: line 4 is "prepay_id=..." there. */
	ok(wxpay_app_invoke_at(w, "prepay_id=wx201410272009395522657a690389285100", 1554208460,
	                       "593BEC0C930BF1AFEB40B4A08C8FB242", &a, &err) == 0,
	   "sign the documentation's invoke example");
	is_str(a.sign, DOC_INVOKE_SIG, "the published invoke signature, byte for byte");
	wxpay_app_invoke_release(&a);

	/* APP: the bare prepay_id; the same key signs the APP layout. */
	ok(wxpay_app_invoke_at(w, "wx201410272009395522657a690389285100", 1554208460,
	                       "593BEC0C930BF1AFEB40B4A08C8FB242", &a, &err) == 0,
	   "sign the APP layout");
	is_str(a.package, "Sign=WXPay", "package is Sign=WXPay");
	is_str(a.partnerid, "1900007291", "partnerid is the mchid");
	is_str(a.timestamp, "1554208460", "timestamp in seconds");
	ok(strcmp(a.sign, DOC_INVOKE_SIG) != 0, "APP and JSAPI layouts sign differently");
	{
		const char *msg =
		        "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
		        "wx201410272009395522657a690389285100\n";

		ok(crypto_sign_sha256(w->priv, msg, strlen(msg), &sig, &err) == 0 &&
		           strcmp(sig, a.sign) == 0,
		   "APP signature is over appid, timestamp, nonce, bare prepay_id, each LF-ended");
	}
	free(sig);
	wxpay_app_invoke_release(&a);

	/* The published request example. */
	ok(wxpay_authorization(w, "POST", "/v3/pay/transactions/jsapi", 1554208460,
	                       "593BEC0C930BF1AFEB40B4A08C8FB242", DOC_BODY, strlen(DOC_BODY),
	                       &auth, &err) == 0,
	   "sign the documentation's request example");
	ok(auth && strstr(auth, "signature=\"" DOC_REQUEST_SIG "\"") != NULL,
	   "the published request signature, byte for byte");
	ok(auth && strncmp(auth, "WECHATPAY2-SHA256-RSA2048 ", 26) == 0, "scheme");
	free(auth);
	wxpay_free(w);
	free(pem);
	return done_testing();
}
