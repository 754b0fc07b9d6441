/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * I2O codes by the names the reference gives them, so that an operator reads
 * "DEVICE_NOT_AVAILABLE" rather than 0x1C. Codes without a name print as
 * "unknown"; the callers always print the number beside the name.
 */
#include <errno.h>
#include <stdio.h>

#include "iop_frame.h"
#include "iop_runtime.h"
#include "iopctl.h"

const char *iopctl_state_name(uint8_t state)
{
	switch (state) {
	case IOP_STATE_INIT: return "INIT";
	case IOP_STATE_RESET: return "RESET";
	case IOP_STATE_HOLD: return "HOLD";
	case IOP_STATE_READY: return "READY";
	case IOP_STATE_OPERATIONAL: return "OPERATIONAL";
	case IOP_STATE_FAILED: return "FAILED";
	case IOP_STATE_FAULTED: return "FAULTED";
	}
	return "unknown";
}

const char *iopctl_req_status_name(uint8_t req_status)
{
	switch (req_status) {
	case IOP_REPLY_STATUS_SUCCESS: return "SUCCESS";
	case IOP_REPLY_STATUS_ABORT_DIRTY: return "ABORT_DIRTY";
	case IOP_REPLY_STATUS_ABORT_NO_DATA_TRANSFER: return "ABORT_NO_DATA_TRANSFER";
	case IOP_REPLY_STATUS_ABORT_PARTIAL_TRANSFER: return "ABORT_PARTIAL_TRANSFER";
	case IOP_REPLY_STATUS_ERROR_DIRTY: return "ERROR_DIRTY";
	case IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER: return "ERROR_NO_DATA_TRANSFER";
	case IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER: return "ERROR_PARTIAL_TRANSFER";
	case IOP_REPLY_STATUS_PROCESS_ABORT_DIRTY: return "PROCESS_ABORT_DIRTY";
	case IOP_REPLY_STATUS_PROCESS_ABORT_NO_DATA_TRANSFER:
		return "PROCESS_ABORT_NO_DATA_TRANSFER";
	case IOP_REPLY_STATUS_PROCESS_ABORT_PARTIAL_TRANSFER:
		return "PROCESS_ABORT_PARTIAL_TRANSFER";
	case IOP_REPLY_STATUS_TRANSACTION_ERROR: return "TRANSACTION_ERROR";
	case IOP_REPLY_STATUS_PROGRESS_REPORT: return "PROGRESS_REPORT";
	}
	return "unknown";
}

const char *iopctl_dsc_name(uint16_t dsc)
{
	switch (dsc) {
	case IOP_DSC_SUCCESS: return "SUCCESS";
	case IOP_DSC_REPLY_BUFFER_FULL: return "REPLY_BUFFER_FULL";
	case IOP_DSC_INSUFFICIENT_RESOURCE_SOFT: return "INSUFFICIENT_RESOURCE_SOFT";
	case IOP_DSC_INSUFFICIENT_RESOURCE_HARD: return "INSUFFICIENT_RESOURCE_HARD";
	case IOP_DSC_UNSUPPORTED_FUNCTION: return "UNSUPPORTED_FUNCTION";
	case IOP_DSC_DEVICE_LOCKED: return "DEVICE_LOCKED";
	case IOP_DSC_DEVICE_RESET: return "DEVICE_RESET";
	case IOP_DSC_INAPPROPRIATE_FUNCTION: return "INAPPROPRIATE_FUNCTION";
	case IOP_DSC_INVALID_INITIATOR_ADDRESS: return "INVALID_INITIATOR_ADDRESS";
	case IOP_DSC_INVALID_MESSAGE_FLAGS: return "INVALID_MESSAGE_FLAGS";
	case IOP_DSC_INVALID_OFFSET: return "INVALID_OFFSET";
	case IOP_DSC_INVALID_PARAMETER: return "INVALID_PARAMETER";
	case IOP_DSC_INVALID_REQUEST: return "INVALID_REQUEST";
	case IOP_DSC_INVALID_TARGET_ADDRESS: return "INVALID_TARGET_ADDRESS";
	case IOP_DSC_MESSAGE_TOO_LARGE: return "MESSAGE_TOO_LARGE";
	case IOP_DSC_MESSAGE_TOO_SMALL: return "MESSAGE_TOO_SMALL";
	case IOP_DSC_MISSING_PARAMETER: return "MISSING_PARAMETER";
	case IOP_DSC_TIMEOUT: return "TIMEOUT";
	case IOP_DSC_UNKNOWN_ERROR: return "UNKNOWN_ERROR";
	case IOP_DSC_UNKNOWN_FUNCTION: return "UNKNOWN_FUNCTION";
	case IOP_DSC_UNSUPPORTED_VERSION: return "UNSUPPORTED_VERSION";
	case IOP_DSC_DEVICE_BUSY: return "DEVICE_BUSY";
	case IOP_DSC_DEVICE_NOT_AVAILABLE: return "DEVICE_NOT_AVAILABLE";
	}
	return "unknown";
}

const char *iopctl_fail_code_name(uint8_t fail_code)
{
	switch (fail_code) {
	case IOP_FAIL_INVALID_VERSION: return "INVALID_VERSION";
	case IOP_FAIL_INVALID_OFFSET: return "INVALID_OFFSET";
	case IOP_FAIL_INVALID_MSG_FLAGS: return "INVALID_MSG_FLAGS";
	case IOP_FAIL_FRAME_TOO_SMALL: return "FRAME_TOO_SMALL";
	case IOP_FAIL_FRAME_TOO_LARGE: return "FRAME_TOO_LARGE";
	case IOP_FAIL_INVALID_TARGET_ID: return "INVALID_TARGET_ID";
	case IOP_FAIL_INVALID_INITIATOR_ID: return "INVALID_INITIATOR_ID";
	case IOP_FAIL_INVALID_INITIATOR_CONTEXT: return "INVALID_INITIATOR_CONTEXT";
	case IOP_FAIL_UNKNOWN: return "UNKNOWN";
	}
	return "unknown";
}

void iopctl_describe(const struct iop_completion *c, char *buf, size_t len)
{
	if (c->result == -EPROTO)
		snprintf(buf, len, "transport failure %s (0x%02X)",
			 iopctl_fail_code_name(c->fail_code), c->fail_code);
	else
		snprintf(buf, len, "%s (0x%02X), DSC %s (0x%04X)",
			 iopctl_req_status_name(c->req_status), c->req_status,
			 iopctl_dsc_name(c->dsc), c->dsc);
}
