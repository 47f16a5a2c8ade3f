/*
 * bill_rows.c - the names of a bill's kinds, layouts, row kinds and
 * directions, as bill_files and bill_trades store them.
 */
#include "db/bill_rows.h"

const char *billparse_kind_name(enum bill_kind kind)
{
	switch (kind) {
	case BILL_KIND_TRADE:
		return "trade";
	case BILL_KIND_FUNDFLOW:
		return "fundflow";
	case BILL_KIND_NONE:
		break;
	}
	return "";
}

const char *billparse_layout_name(enum bill_layout layout)
{
	switch (layout) {
	case BILL_LAYOUT_ALL:
		return "ALL";
	case BILL_LAYOUT_SUCCESS:
		return "SUCCESS";
	case BILL_LAYOUT_REFUND:
		return "REFUND";
	case BILL_LAYOUT_LEGACY_ALL:
		return "LEGACY_ALL";
	case BILL_LAYOUT_LEGACY_SUCCESS:
		return "LEGACY_SUCCESS";
	case BILL_LAYOUT_LEGACY_REFUND:
		return "LEGACY_REFUND";
	case BILL_LAYOUT_FUNDFLOW:
		return "FUNDFLOW";
	case BILL_LAYOUT_NONE:
		break;
	}
	return "";
}

const char *billparse_row_kind_name(enum bill_row_kind kind)
{
	switch (kind) {
	case BILL_ROW_SUCCESS:
		return "SUCCESS";
	case BILL_ROW_REFUND:
		return "REFUND";
	case BILL_ROW_REVOKED:
		return "REVOKED";
	}
	return "";
}

const char *billparse_direction_name(enum bill_direction dir)
{
	switch (dir) {
	case BILL_DIR_IN:
		return "IN";
	case BILL_DIR_OUT:
		return "OUT";
	}
	return "";
}
