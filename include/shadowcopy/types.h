/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shadowcopy/types.h - ids, enums and the error scheme shared by every role.
 *
 * Names and numbers follow Windows VSS (vss.h, vswriter.h) so that an engineer
 * who knows VSS can predict every behaviour: SC_WS_STABLE is VSS_WS_STABLE (1),
 * SC_E_BAD_STATE is VSS_E_BAD_STATE (0x80042301), and so on.
 *
 * Errors: every function that can fail returns int, >= 0 on success; on failure
 * either -errno (system failures) or -SC_E_* (VSS errors, a private range above
 * 4095, as libmount does).  sc_strerror() and sc_error_name() cover both.
 *
 * Thread safety: every function in this header is thread-safe and never blocks.
 * This header is strict C11 and compiles under C++.
 */
#ifndef SHADOWCOPY_TYPES_H
#define SHADOWCOPY_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define SC_EXPORT __attribute__((visibility("default")))
#else
#define SC_EXPORT
#endif

#define SC_VERSION_MAJOR 0
#define SC_VERSION_MINOR 1
#define SC_VERSION_PATCH 0

/* Version of the wire protocol this library speaks (docs/protocol.md). */
#define SC_PROTOCOL_MAJOR 1
#define SC_PROTOCOL_MINOR 0

/* Default paths of the service's sockets (see shadowcopyd(8)). */
#define SC_DEFAULT_SOCKET "/run/shadowcopy/shadowcopyd.sock"
#define SC_DEFAULT_WRITER_SOCKET "/run/shadowcopy/writer.sock"

/** sc_version - the library's version, "MAJOR.MINOR.PATCH". Static string. */
SC_EXPORT const char *sc_version(void);

/* ------------------------------------------------------------------ ids */

/*
 * A VSS_ID: a 128-bit identifier (writer class, writer instance, snapshot,
 * snapshot set, provider).  On the wire and in text it is the lowercase
 * "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" form.
 */
struct sc_id {
	uint8_t bytes[16];
};

/* Length of the text form without braces, and the buffer size it needs. */
#define SC_ID_STRING_LEN 36
#define SC_ID_STRING_MAX (SC_ID_STRING_LEN + 1)

/** sc_id_is_null - true when every byte of @id is zero (VSS's GUID_NULL). */
SC_EXPORT bool sc_id_is_null(const struct sc_id *id);

/** sc_id_equal - true when @a and @b are the same id. */
SC_EXPORT bool sc_id_equal(const struct sc_id *a, const struct sc_id *b);

/**
 * sc_id_to_string - write the text form of @id into @buf (SC_ID_STRING_MAX
 * bytes) and return @buf.
 */
SC_EXPORT char *sc_id_to_string(const struct sc_id *id, char buf[SC_ID_STRING_MAX]);

/**
 * sc_id_from_string - parse @s (with or without surrounding braces, any case)
 * into @ret.  Returns 0, or -EINVAL when @s is not an id; @ret is untouched then.
 */
SC_EXPORT int sc_id_from_string(const char *s, struct sc_id *ret);

/**
 * sc_id_random - a new random (version 4) id.  Returns 0 or -errno.
 */
SC_EXPORT int sc_id_random(struct sc_id *ret);

/* --------------------------------------------------------------- enums */

/* VSS_WRITER_STATE */
enum sc_writer_state {
	SC_WS_UNKNOWN = 0,
	SC_WS_STABLE = 1,
	SC_WS_WAITING_FOR_FREEZE = 2,
	SC_WS_WAITING_FOR_THAW = 3,
	SC_WS_WAITING_FOR_POST_SNAPSHOT = 4,
	SC_WS_WAITING_FOR_BACKUP_COMPLETE = 5,
	SC_WS_FAILED_AT_IDENTIFY = 6,
	SC_WS_FAILED_AT_PREPARE_BACKUP = 7,
	SC_WS_FAILED_AT_PREPARE_SNAPSHOT = 8,
	SC_WS_FAILED_AT_FREEZE = 9,
	SC_WS_FAILED_AT_THAW = 10,
	SC_WS_FAILED_AT_POST_SNAPSHOT = 11,
	SC_WS_FAILED_AT_BACKUP_COMPLETE = 12,
	SC_WS_FAILED_AT_PRE_RESTORE = 13,
	SC_WS_FAILED_AT_POST_RESTORE = 14,
	SC_WS_FAILED_AT_BACKUPSHUTDOWN = 15,
	_SC_WS_MAX
};

/**
 * sc_writer_state_name - "STABLE", "FAILED_AT_FREEZE", ...; NULL if unknown.
 * sc_writer_state_text - the words vssadmin prints: "Stable", "Waiting for
 * freeze", "Failed", ...; NULL if unknown.
 */
SC_EXPORT const char *sc_writer_state_name(enum sc_writer_state s);
SC_EXPORT const char *sc_writer_state_text(enum sc_writer_state s);

/* The writer events of VSS (vss-model 4.3), also the names on the wire. */
enum sc_event {
	SC_EVENT_IDENTIFY = 0,
	SC_EVENT_PREPARE_BACKUP = 1,
	SC_EVENT_PREPARE_SNAPSHOT = 2,
	SC_EVENT_FREEZE = 3,
	SC_EVENT_THAW = 4,
	SC_EVENT_POST_SNAPSHOT = 5,
	SC_EVENT_ABORT = 6,
	SC_EVENT_BACKUP_COMPLETE = 7,
	SC_EVENT_BACKUP_SHUTDOWN = 8,
	SC_EVENT_PRE_RESTORE = 9,
	SC_EVENT_POST_RESTORE = 10,
	_SC_EVENT_MAX
};

/** sc_event_name - the wire name ("identify", "prepare_backup", ...) or NULL. */
SC_EXPORT const char *sc_event_name(enum sc_event e);
/** sc_event_from_name - the event called @name, or -EINVAL. */
SC_EXPORT int sc_event_from_name(const char *name);

/* VSS_USAGE_TYPE */
enum sc_usage_type {
	SC_UT_UNDEFINED = 0,
	SC_UT_BOOTABLESYSTEMSTATE = 1,
	SC_UT_SYSTEMSERVICE = 2,
	SC_UT_USERDATA = 3,
	SC_UT_OTHER = 4,
	_SC_UT_MAX
};

/* VSS_SOURCE_TYPE */
enum sc_source_type {
	SC_ST_UNDEFINED = 0,
	SC_ST_TRANSACTEDDB = 1,
	SC_ST_NONTRANSACTEDDB = 2,
	SC_ST_OTHER = 3,
	_SC_ST_MAX
};

/* VSS_APPLICATION_LEVEL: the order of Freeze is FRONT_END, BACK_END, SYSTEM. */
enum sc_app_level {
	SC_APP_UNKNOWN = 0,
	SC_APP_SYSTEM = 1,
	SC_APP_BACK_END = 2,
	SC_APP_FRONT_END = 3,
	_SC_APP_MAX
};

/* VSS_COMPONENT_TYPE */
enum sc_component_type {
	SC_CT_UNDEFINED = 0,
	SC_CT_DATABASE = 1,
	SC_CT_FILEGROUP = 2,
	_SC_CT_MAX
};

/* VSS_COMPONENT_FLAGS */
enum sc_component_flags {
	SC_CF_BACKUP_RECOVERY = 1 << 0,
	SC_CF_APP_ROLLBACK_RECOVERY = 1 << 1,
	SC_CF_NOT_SYSTEM_STATE = 1 << 2,
};

/* VSS_RESTOREMETHOD_ENUM */
enum sc_restore_method {
	SC_RME_UNDEFINED = 0,
	SC_RME_RESTORE_IF_NOT_THERE = 1,
	SC_RME_RESTORE_IF_CAN_REPLACE = 2,
	SC_RME_STOP_RESTORE_START = 3,
	SC_RME_RESTORE_TO_ALTERNATE_LOCATION = 4,
	SC_RME_RESTORE_AT_REBOOT = 5,
	SC_RME_RESTORE_AT_REBOOT_IF_CANNOT_REPLACE = 6,
	SC_RME_CUSTOM = 7,
	SC_RME_RESTORE_STOP_START = 8,
	_SC_RME_MAX
};

/* VSS_WRITERRESTORE_ENUM: whether the writer wants PreRestore/PostRestore. */
enum sc_writer_restore {
	SC_WRE_UNDEFINED = 0,
	SC_WRE_NEVER = 1,
	SC_WRE_IF_REPLACE_FAILS = 2,
	SC_WRE_ALWAYS = 3,
	_SC_WRE_MAX
};

/* VSS_BACKUP_TYPE */
enum sc_backup_type {
	SC_BT_UNDEFINED = 0,
	SC_BT_FULL = 1,
	SC_BT_INCREMENTAL = 2,
	SC_BT_DIFFERENTIAL = 3,
	SC_BT_LOG = 4,
	SC_BT_COPY = 5,
	SC_BT_OTHER = 6,
	_SC_BT_MAX
};

/* VSS_BACKUP_SCHEMA bits (what backup types a writer supports). */
enum sc_backup_schema {
	SC_BS_DIFFERENTIAL = 1 << 0,
	SC_BS_INCREMENTAL = 1 << 1,
	SC_BS_EXCLUSIVE_INCREMENTAL_DIFFERENTIAL = 1 << 2,
	SC_BS_LOG = 1 << 3,
	SC_BS_COPY = 1 << 4,
	SC_BS_TIMESTAMPED = 1 << 5,
	SC_BS_LAST_MODIFY = 1 << 6,
	SC_BS_LSN = 1 << 7,
};

/* VSS_FILE_SPEC_BACKUP_TYPE; SC_FSBT_ALL is VSS's default for a file set. */
enum sc_file_spec_backup_type {
	SC_FSBT_FULL_BACKUP_REQUIRED = 0x1,
	SC_FSBT_DIFFERENTIAL_BACKUP_REQUIRED = 0x2,
	SC_FSBT_INCREMENTAL_BACKUP_REQUIRED = 0x4,
	SC_FSBT_LOG_BACKUP_REQUIRED = 0x8,
	SC_FSBT_FULL_SNAPSHOT_REQUIRED = 0x100,
	SC_FSBT_DIFFERENTIAL_SNAPSHOT_REQUIRED = 0x200,
	SC_FSBT_INCREMENTAL_SNAPSHOT_REQUIRED = 0x400,
	SC_FSBT_LOG_SNAPSHOT_REQUIRED = 0x800,
	SC_FSBT_ALL = 0xF0F,
};

/* VSS_VOLUME_SNAPSHOT_ATTRIBUTES (the bits a context is made of, and more). */
enum sc_snapshot_attributes {
	SC_ATTR_PERSISTENT = 0x00000001,
	SC_ATTR_NO_AUTORECOVERY = 0x00000002,
	SC_ATTR_CLIENT_ACCESSIBLE = 0x00000004,
	SC_ATTR_NO_AUTO_RELEASE = 0x00000008,
	SC_ATTR_NO_WRITERS = 0x00000010,
	SC_ATTR_EXPOSED_LOCALLY = 0x00100000,
	SC_ATTR_AUTORECOVER = 0x00400000,
};

/* VSS_SNAPSHOT_CONTEXT: the four contexts Shadowcopy supports, and ALL. */
#define SC_CTX_BACKUP 0x00u            /* auto-release, writers */
#define SC_CTX_FILE_SHARE_BACKUP 0x10u /* auto-release, no writers */
#define SC_CTX_NAS_ROLLBACK 0x19u      /* persistent, no writers */
#define SC_CTX_APP_ROLLBACK 0x09u      /* persistent, writers */
#define SC_CTX_ALL 0xffffffffu         /* query and delete only */

/**
 * sc_context_name - "backup", "file-share-backup", "nas-rollback",
 * "app-rollback" or "all"; NULL for any other value.
 * sc_context_from_name - the context called @name into @ret; 0 or -EINVAL.
 */
SC_EXPORT const char *sc_context_name(uint32_t context);
SC_EXPORT int sc_context_from_name(const char *name, uint32_t *ret);

/* IVssAsync::QueryStatus results that are not errors. */
enum sc_async_status {
	SC_ASYNC_PENDING = 1,   /* VSS_S_ASYNC_PENDING */
	SC_ASYNC_FINISHED = 2,  /* VSS_S_ASYNC_FINISHED */
	SC_ASYNC_CANCELLED = 3, /* VSS_S_ASYNC_CANCELLED */
};

/* ---------------------------------------------------------------- errors */

/*
 * SC_ERROR_MAP(XX) lists every domain error once:
 *   XX(NAME, number, VSS HRESULT, message)
 * The C value is -SC_E_NAME; on the wire the error is named "NAME".  Numbers
 * are stable ABI and never reused.  The last group has no VSS counterpart;
 * their HRESULTs are the generic COM codes VSS methods also return.
 */
#define SC_ERROR_MAP(XX)                                                                   \
	XX(BAD_STATE, 4097, 0x80042301u, "Call out of sequence or object in the wrong state") \
	XX(UNEXPECTED, 4098, 0x80042302u, "Unexpected internal error")                      \
	XX(PROVIDER_ALREADY_REGISTERED, 4099, 0x80042303u, "Provider already registered")    \
	XX(PROVIDER_NOT_REGISTERED, 4100, 0x80042304u, "No such provider")                   \
	XX(PROVIDER_VETO, 4101, 0x80042306u, "The provider refused the operation")           \
	XX(PROVIDER_IN_USE, 4102, 0x80042307u, "The provider is in use")                     \
	XX(OBJECT_NOT_FOUND, 4103, 0x80042308u, "No such object")                            \
	XX(VOLUME_NOT_SUPPORTED, 4104, 0x8004230cu, "No provider supports this volume")      \
	XX(OBJECT_ALREADY_EXISTS, 4105, 0x8004230du, "The object already exists")            \
	XX(VOLUME_NOT_SUPPORTED_BY_PROVIDER, 4106, 0x8004230eu,                              \
	   "The named provider does not support this volume")                                \
	XX(UNEXPECTED_PROVIDER_ERROR, 4107, 0x8004230fu, "The provider failed unexpectedly") \
	XX(INVALID_XML_DOCUMENT, 4108, 0x80042311u, "The document is invalid")               \
	XX(MAXIMUM_NUMBER_OF_VOLUMES_REACHED, 4109, 0x80042312u,                             \
	   "The snapshot set already holds the maximum number of volumes")                  \
	XX(FLUSH_WRITES_TIMEOUT, 4110, 0x80042313u, "Flushing writes timed out")             \
	XX(HOLD_WRITES_TIMEOUT, 4111, 0x80042314u, "Holding writes timed out")               \
	XX(UNEXPECTED_WRITER_ERROR, 4112, 0x80042315u, "Communication with writers failed")  \
	XX(SNAPSHOT_SET_IN_PROGRESS, 4113, 0x80042316u,                                      \
	   "Another snapshot set is being created")                                          \
	XX(MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED, 4114, 0x80042317u,                           \
	   "The volume has the maximum number of snapshots")                                 \
	XX(WRITER_INFRASTRUCTURE, 4115, 0x80042318u, "The writer infrastructure is not working") \
	XX(WRITER_NOT_RESPONDING, 4116, 0x80042319u, "A writer is not responding")           \
	XX(WRITER_ALREADY_SUBSCRIBED, 4117, 0x8004231au, "The writer is already subscribed") \
	XX(UNSUPPORTED_CONTEXT, 4118, 0x8004231bu, "The context is not supported")           \
	XX(VOLUME_IN_USE, 4119, 0x8004231du, "The volume is in use")                         \
	XX(INSUFFICIENT_STORAGE, 4120, 0x8004231fu, "Not enough storage for the snapshot")   \
	XX(NESTED_VOLUME_LIMIT, 4121, 0x8004232cu, "The volume is nested too deeply")        \
	XX(WRITERERROR_PARTIAL_FAILURE, 4122, 0x80042336u, "Some components of the writer failed") \
	XX(WRITERERROR_INCONSISTENTSNAPSHOT, 4123, 0x800423f0u,                              \
	   "The snapshot set lacks volumes the writer needs")                                \
	XX(WRITERERROR_OUTOFRESOURCES, 4124, 0x800423f1u, "The writer ran out of resources") \
	XX(WRITERERROR_TIMEOUT, 4125, 0x800423f2u, "The writer's freeze window timed out")   \
	XX(WRITERERROR_RETRYABLE, 4126, 0x800423f3u, "The writer failed; retrying may help") \
	XX(WRITERERROR_NONRETRYABLE, 4127, 0x800423f4u,                                      \
	   "The writer failed; retrying will not help")                                      \
	XX(WRITERERROR_RECOVERY_FAILED, 4128, 0x800423f5u,                                   \
	   "The writer failed to recover the snapshot")                                      \
	XX(WRITER_STATUS_NOT_AVAILABLE, 4129, 0x80042409u, "Writer status is not available") \
	XX(ACCESS_DENIED, 4160, 0x80070005u, "Permission denied")                            \
	XX(INVALID_MESSAGE, 4161, 0x80070057u, "Malformed message")                          \
	XX(MESSAGE_TOO_LARGE, 4162, 0x80070057u, "Message too large")                        \
	XX(UNKNOWN_METHOD, 4163, 0x80004001u, "Unknown method")                              \
	XX(PROTOCOL_VERSION, 4164, 0x80004001u, "Unsupported protocol version")              \
	XX(CANCELLED, 4165, 0x0004230bu, "The operation was cancelled")

enum sc_error {
#define SC_ERROR_ENUM_(name, num, hr, msg) SC_E_##name = num,
	SC_ERROR_MAP(SC_ERROR_ENUM_)
#undef SC_ERROR_ENUM_
};

/* Errors at or above this value are SC_E_*; below it they are errno values. */
#define SC_ERROR_BASE 4096

/**
 * sc_strerror - a human-readable message for @error (either sign; 0 = "Success").
 * Covers SC_E_* and errno values.  Static string; never NULL.
 */
SC_EXPORT const char *sc_strerror(int error);

/**
 * sc_error_name - the symbolic name of @error (either sign): "BAD_STATE" for
 * SC_E_BAD_STATE, "EACCES" for EACCES, "OK" for 0, "UNKNOWN" otherwise.
 * This is the name used on the wire.  Static string; never NULL.
 */
SC_EXPORT const char *sc_error_name(int error);

/**
 * sc_error_from_name - the negative error called @name ("BAD_STATE" gives
 * -SC_E_BAD_STATE, "EACCES" gives -EACCES), or 0 when @name is unknown.
 */
SC_EXPORT int sc_error_from_name(const char *name);

/**
 * sc_error_hresult - the VSS HRESULT for @error (either sign): 0x80042301 for
 * SC_E_BAD_STATE, 0x80070005 (E_ACCESSDENIED) for EACCES/EPERM, 0x80070057
 * (E_INVALIDARG) for EINVAL, 0x8007000e (E_OUTOFMEMORY) for ENOMEM, 0 for 0,
 * 0x80004005 (E_FAIL) for anything else.
 */
SC_EXPORT uint32_t sc_error_hresult(int error);

#ifdef __cplusplus
}
#endif

#endif
