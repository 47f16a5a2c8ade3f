/*
 * sim_resp.c - what every handler of the simulator shares: the endpoint
 * names, the query arguments of a request, and JSON and error responses.
 * Below the HTTP layer, the endpoints, bills and notifications.
 */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

static const char *const ep_names[] = { "none",         "prepay",          "query",
	                                "query_id",     "close",           "refund",
	                                "refund_query", "abnormal_refund", "tradebill",
	                                "fundflowbill", "download",        "certificates" };

const char *sim_ep_name(enum sim_ep ep)
{
	return ep_names[ep];
}

void sim_resp_json(struct sim_resp *rs, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	rs->status = status;
	buf_reset(&rs->body);
	if (text)
		buf_adds(&rs->body, text);
	free(text);
	json_decref(j);
}

int sim_resp_error(struct sim_resp *rs, int status, const char *code, const char *message,
                   json_t *detail)
{
	json_t *j = json_pack("{s:s, s:s}", "code", code, "message", message);

	if (detail)
		json_object_set_new(j, "detail", detail);
	sim_resp_json(rs, status, j);
	rs->code = code;
	return -1;
}

const char *sim_req_arg(const struct sim_req *rq, const char *key)
{
	for (size_t i = 0; i < rq->nargs; i++)
		if (strcmp(rq->args[i].key, key) == 0)
			return rq->args[i].val;
	return NULL;
}
