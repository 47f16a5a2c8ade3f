/*
 * approve.h - `wxrecon approve`: a person releases an action held for
 * approval (pending_approval -> intent), audited in the same transaction.
 */
#ifndef WXR_APPROVE_H
#define WXR_APPROVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db_actions.h"
#include "wxrecon.h"

/* Moves action id (of mchid) from pending_approval to intent, recording who
 * and note (may be NULL) at now (RFC 3339), and appends action.approve to the
 * audit log with the state change, why it was held and its amount; all in
 * one transaction. *out receives the action as it was (the caller releases
 * it with action_release). */
int approve_action(struct db *db, int64_t run_id, const char *mchid, int64_t id, const char *who,
                   const char *note, const char *now, struct action *out, struct wxr_err *err);

/* The actions matching f, by id (`wxrecon actions`); *out: a new array the
 * caller frees with actions_free(). */
int approve_list(struct db *db, const struct action_filter *f, struct action **out, size_t *out_n,
                 struct wxr_err *err);

/* Action id as stored now (*out_found false when there is none; the caller
 * releases it with action_release). */
int approve_get(struct db *db, int64_t id, struct action *out, bool *out_found,
                struct wxr_err *err);

#endif
