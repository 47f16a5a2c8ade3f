/*
 * db_report.h - every SQL statement of the reports. Each function reads one
 * aspect of the range rep->from..rep->to (merchant rep->mchid, "" = all)
 * into rep, with set-based queries (GROUP BY date), never one per row.
 * Portable SQL; nothing here writes.
 */
#ifndef WXR_DB_REPORT_H
#define WXR_DB_REPORT_H

#include "db/db.h"
#include "db/report_rows.h"

/* bill_files of the range: rep->bills, and days[].bill from the trade bills. */
int db_report_bills(struct db *db, struct report *rep, struct wxr_err *err);
/* The trade bill rows summed per day into days[] (count, amounts, fees). */
int db_report_trades(struct db *db, struct report *rep, struct wxr_err *err);
/* Discrepancies: counts per day into days[].disc, counts by kind into
 * rep->kinds, how many (rep->ndiscs) and the runs behind them into rep->runs. */
int db_report_discrepancies(struct db *db, struct report *rep, struct wxr_err *err);
/* The actions of the range (report.h says which) into rep->actions. */
int db_report_actions(struct db *db, struct report *rep, struct wxr_err *err);
/* For the reports index: the latest run of job over exactly from..to (run_id
 * 0 and state "" when none), the open discrepancies dated in the range and
 * the days of the range whose trade bill was never fetched. */
int db_report_index_row(struct db *db, struct report_index_row *row, const char *mchid,
                        struct wxr_err *err);

#endif
