package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/coderclaw/coderclaw"
	"github.com/coderclaw/coderclaw/internal/identity/idstore"
	"github.com/coderclaw/coderclaw/internal/store"
)

// Identities is the idstore.Store of a Store: users, API tokens, devices
// and sessions in the tables of migration 003. Its writes are requests to
// the Store's writer like every other write (group commit, durable when
// they return, a refusal rolls back that request alone); its reads go to
// the read pool. The two authentication lookups are prepared statements,
// prepared on first use and closed with the Store.
//
// Get it once with Store.Identities and keep it; it is safe for
// concurrent use and lives as long as the Store.
type Identities struct {
	s                          *Store
	lookupToken, lookupSession atomic.Pointer[sql.Stmt]
}

var _ idstore.Store = (*Identities)(nil)

// Identities returns the Store's identity store.
func (s *Store) Identities() *Identities { return &Identities{s: s} }

const (
	identityUserColumns    = "id, name, roles, disabled, created_at"
	identityTokenColumns   = "id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at"
	identityDeviceColumns  = "id, user_id, name, trust, created_at, last_seen_at"
	identitySessionColumns = "id, user_id, device_id, roles, created_at, expires_at, revoked_at"
)

// The authentication lookups: the credential and its user in one read.
const (
	identityLookupTokenSQL = `SELECT t.id, t.user_id, t.name, t.prefix, t.created_at, t.expires_at, t.last_used_at, t.revoked_at,
		u.id, u.name, u.roles, u.disabled, u.created_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`
	identityLookupSessionSQL = `SELECT s.id, s.user_id, s.device_id, s.roles, s.created_at, s.expires_at, s.revoked_at,
		u.id, u.name, u.roles, u.disabled, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`
)

// Writes.
const (
	identityInsertUserSQL    = "INSERT INTO users (" + identityUserColumns + ") VALUES (?, ?, ?, ?, ?)"
	identityUpdateUserSQL    = "UPDATE users SET roles = ?, disabled = ? WHERE id = ? RETURNING " + identityUserColumns
	identityUserExistsSQL    = "SELECT 1 FROM users WHERE id = ?"
	identityInsertTokenSQL   = "INSERT INTO api_tokens (" + identityTokenColumns + ", hash) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?)"
	identityRevokeTokenSQL   = "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING " + identityTokenColumns
	identityTouchTokenSQL    = "UPDATE api_tokens SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?1)"
	identityTokenExistsSQL   = "SELECT 1 FROM api_tokens WHERE id = ?"
	identityInsertDeviceSQL  = "INSERT INTO devices (" + identityDeviceColumns + ") VALUES (?, ?, ?, ?, ?, ?)"
	identitySetTrustSQL      = "UPDATE devices SET trust = ? WHERE id = ? RETURNING " + identityDeviceColumns
	identityTouchDeviceSQL   = "UPDATE devices SET last_seen_at = ?1 WHERE id = ?2 AND last_seen_at < ?1"
	identityDeviceExistsSQL  = "SELECT user_id FROM devices WHERE id = ?"
	identityInsertSessionSQL = "INSERT INTO sessions (" + identitySessionColumns + ", hash) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)"
	identityRevokeSessionSQL = "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING " + identitySessionColumns
)

func identityNotFound(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeNotFound, format, args...)
}

func identityConflict(format string, args ...any) error {
	return coderclaw.Errorf(coderclaw.CodeConflict, format, args...)
}

// identityConstraint returns the extended SQLite result code of a constraint
// violation, or 0 for any other error.
func identityConstraint(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch c := se.Code(); c {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_CHECK:
			return c
		}
	}
	return 0
}

// enter is Store.enter for an identity operation named op.
func (x *Identities) enter(op string) error {
	if !x.s.enter() {
		return fmt.Errorf("%s: %w", op, store.ErrClosed)
	}
	return nil
}

// identityStmt returns the writer's statement for query, prepared on first
// use. It looks among the writer's statements, which the writer closes
// when it stops; identity writes are rare, so a scan beats a map field.
func (w *writer) identityStmt(query string) (*stmt, error) {
	for _, st := range w.stmts {
		if st.query == query {
			return st, nil
		}
	}
	return w.prepare(query)
}

// identityExec runs a write statement and returns the rows it changed;
// only a statement that changed rows counts as the request's write, so a
// request may still refuse after an UPDATE that matched nothing.
func (w *writer) identityExec(query string, args ...any) (int64, error) {
	st, err := w.identityStmt(query)
	if err != nil {
		return 0, err
	}
	res, err := w.execResult(st, w.bind(args))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if n > 0 {
		w.wrote = true
	}
	return n, err
}

// identityRow runs a query returning at most one row and scans it into
// dest; it returns sql.ErrNoRows when there is none.
func (w *writer) identityRow(query string, args []any, dest ...any) error {
	st, err := w.identityStmt(query)
	if err != nil {
		return err
	}
	row, err := w.queryRow(st, args...)
	if err != nil {
		return err
	}
	return identityValues(row).Scan(dest...)
}

// identityUpdateRow runs an UPDATE ... RETURNING of at most one row like
// identityRow; a returned row is the request's write.
func (w *writer) identityUpdateRow(query string, args []any, dest ...any) error {
	if err := w.identityRow(query, args, dest...); err != nil {
		return err
	}
	w.wrote = true
	return nil
}

// identityValues scans a writer's result row like a *sql.Row, for the
// destination types the identity rows use.
type identityValues []driver.Value

func (v identityValues) Scan(dest ...any) error {
	if len(dest) != len(v) {
		return fmt.Errorf("scan: %d columns into %d destinations", len(v), len(dest))
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *string:
			*d = vString(v[i])
		case *int64:
			*d = vInt(v[i])
		case *bool:
			*d = vInt(v[i]) != 0
		case *sql.NullInt64:
			*d = vNullInt(v[i])
		case *sql.NullString:
			*d = vNullString(v[i])
		default:
			return fmt.Errorf("scan: destination %d of type %T", i, d)
		}
	}
	return nil
}

// Rows.

type identityUserRow struct {
	u       idstore.User
	roles   string
	created int64
}

func (r *identityUserRow) dest() []any {
	return []any{&r.u.ID, &r.u.Name, &r.roles, &r.u.Disabled, &r.created}
}

func (r *identityUserRow) user() (idstore.User, error) {
	roles, err := identityDecodeRoles(r.roles)
	if err != nil {
		return idstore.User{}, fmt.Errorf("user %s: %w", r.u.ID, err)
	}
	r.u.Roles, r.u.CreatedAt = roles, fromNanos(r.created)
	return r.u, nil
}

type identityTokenRow struct {
	t                      idstore.Token
	created                int64
	expires, used, revoked sql.NullInt64
}

func (r *identityTokenRow) dest() []any {
	return []any{&r.t.ID, &r.t.UserID, &r.t.Name, &r.t.Prefix, &r.created, &r.expires, &r.used, &r.revoked}
}

func (r *identityTokenRow) token() idstore.Token {
	r.t.CreatedAt = fromNanos(r.created)
	r.t.ExpiresAt, r.t.LastUsedAt, r.t.RevokedAt = optTime(r.expires), optTime(r.used), optTime(r.revoked)
	return r.t
}

type identityDeviceRow struct {
	d             idstore.Device
	trust         string
	created, seen int64
}

func (r *identityDeviceRow) dest() []any {
	return []any{&r.d.ID, &r.d.UserID, &r.d.Name, &r.trust, &r.created, &r.seen}
}

func (r *identityDeviceRow) device() idstore.Device {
	r.d.Trust, r.d.CreatedAt, r.d.LastSeenAt = idstore.Trust(r.trust), fromNanos(r.created), fromNanos(r.seen)
	return r.d
}

type identitySessionRow struct {
	s                idstore.Session
	device           sql.NullString
	roles            string
	created, expires int64
	revoked          sql.NullInt64
}

func (r *identitySessionRow) dest() []any {
	return []any{&r.s.ID, &r.s.UserID, &r.device, &r.roles, &r.created, &r.expires, &r.revoked}
}

func (r *identitySessionRow) session() (idstore.Session, error) {
	roles, err := identityDecodeRoles(r.roles)
	if err != nil {
		return idstore.Session{}, fmt.Errorf("session %s: %w", r.s.ID, err)
	}
	r.s.DeviceID, r.s.Roles = r.device.String, roles
	r.s.CreatedAt, r.s.ExpiresAt, r.s.RevokedAt = fromNanos(r.created), fromNanos(r.expires), optTime(r.revoked)
	return r.s, nil
}

func identityEncodeRoles(roles []string) (string, error) {
	if roles == nil {
		roles = []string{}
	}
	b, err := json.Marshal(roles)
	return string(b), err
}

func identityDecodeRoles(s string) ([]string, error) {
	roles := []string{}
	if err := json.Unmarshal([]byte(s), &roles); err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return roles, nil
}

func identityOptNanos(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: nanos(*t), Valid: true}
}

// Users.

// CreateUser implements idstore.Store.
func (x *Identities) CreateUser(ctx context.Context, u idstore.User) error {
	if u.ID == "" {
		return fmt.Errorf("create user: %w", invalid("id: must not be empty"))
	}
	if u.Name == "" {
		return fmt.Errorf("create user: %w", invalid("name: must not be empty"))
	}
	roles, err := identityEncodeRoles(u.Roles)
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	if err := x.enter("create user " + u.Name); err != nil {
		return err
	}
	defer x.s.ops.Done()
	err = x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		_, err := w.identityExec(identityInsertUserSQL, u.ID, u.Name, roles, identityBool(u.Disabled), nanos(u.CreatedAt))
		switch identityConstraint(err) {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return identityConflict("id: user %s already exists", u.ID)
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return identityConflict("name: user %q already exists", u.Name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	return nil
}

func identityBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// User implements idstore.Store.
func (x *Identities) User(ctx context.Context, id string) (idstore.User, error) {
	u, err := x.queryUser(ctx, "SELECT "+identityUserColumns+" FROM users WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		err = identityNotFound("user: no user with id %q", id)
	}
	if err != nil {
		return idstore.User{}, fmt.Errorf("get user %s: %w", id, err)
	}
	return u, nil
}

// UserByName implements idstore.Store.
func (x *Identities) UserByName(ctx context.Context, name string) (idstore.User, error) {
	u, err := x.queryUser(ctx, "SELECT "+identityUserColumns+" FROM users WHERE name = ?", name)
	if errors.Is(err, sql.ErrNoRows) {
		err = identityNotFound("user: no user named %q", name)
	}
	if err != nil {
		return idstore.User{}, fmt.Errorf("get user %s: %w", name, err)
	}
	return u, nil
}

func (x *Identities) queryUser(ctx context.Context, query string, arg any) (idstore.User, error) {
	if err := x.enter("get user"); err != nil {
		return idstore.User{}, err
	}
	defer x.s.ops.Done()
	var r identityUserRow
	if err := x.s.readDB.QueryRowContext(ctx, query, arg).Scan(r.dest()...); err != nil {
		return idstore.User{}, err
	}
	return r.user()
}

// Users implements idstore.Store.
func (x *Identities) Users(ctx context.Context) ([]idstore.User, error) {
	users, err := identityList(ctx, x, "SELECT "+identityUserColumns+" FROM users ORDER BY name", nil,
		func(sc scanner) (idstore.User, error) {
			var r identityUserRow
			if err := sc.Scan(r.dest()...); err != nil {
				return idstore.User{}, err
			}
			return r.user()
		})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// UpdateUser implements idstore.Store.
func (x *Identities) UpdateUser(ctx context.Context, u idstore.User) (idstore.User, error) {
	roles, err := identityEncodeRoles(u.Roles)
	if err != nil {
		return idstore.User{}, fmt.Errorf("update user %s: %w", u.ID, err)
	}
	if err := x.enter("update user " + u.ID); err != nil {
		return idstore.User{}, err
	}
	defer x.s.ops.Done()
	var r identityUserRow
	err = x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		err := w.identityUpdateRow(identityUpdateUserSQL, []any{roles, identityBool(u.Disabled), u.ID}, r.dest()...)
		if errors.Is(err, sql.ErrNoRows) {
			return identityNotFound("user: no user with id %q", u.ID)
		}
		return err
	})
	if err != nil {
		return idstore.User{}, fmt.Errorf("update user %s: %w", u.ID, err)
	}
	return r.user()
}

// checkUser refuses a request for a user that does not exist.
func (w *writer) checkUser(id string) error {
	var one int64
	err := w.identityRow(identityUserExistsSQL, []any{id}, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return identityNotFound("user_id: no user with id %q", id)
	}
	return err
}

// Tokens.

// CreateToken implements idstore.Store.
func (x *Identities) CreateToken(ctx context.Context, t idstore.Token, h idstore.Hash) error {
	if t.ID == "" {
		return fmt.Errorf("create token: %w", invalid("id: must not be empty"))
	}
	if err := x.enter("create token " + t.ID); err != nil {
		return err
	}
	defer x.s.ops.Done()
	err := x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		if err := w.checkUser(t.UserID); err != nil {
			return err
		}
		_, err := w.identityExec(identityInsertTokenSQL, t.ID, t.UserID, t.Name, t.Prefix, nanos(t.CreatedAt),
			identityOptNanos(t.ExpiresAt), h[:])
		switch identityConstraint(err) {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return identityConflict("id: token %s already exists", t.ID)
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return identityConflict("secret: a token with the same secret already exists")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

// Token implements idstore.Store.
func (x *Identities) Token(ctx context.Context, id string) (idstore.Token, error) {
	ts, err := identityList(ctx, x, "SELECT "+identityTokenColumns+" FROM api_tokens WHERE id = ?", []any{id}, identityScanToken)
	if err == nil && len(ts) == 0 {
		err = identityNotFound("token: no token with id %q", id)
	}
	if err != nil {
		return idstore.Token{}, fmt.Errorf("get token %s: %w", id, err)
	}
	return ts[0], nil
}

func identityScanToken(sc scanner) (idstore.Token, error) {
	var r identityTokenRow
	if err := sc.Scan(r.dest()...); err != nil {
		return idstore.Token{}, err
	}
	return r.token(), nil
}

// Tokens implements idstore.Store.
func (x *Identities) Tokens(ctx context.Context, userID string) ([]idstore.Token, error) {
	q, args := "SELECT "+identityTokenColumns+" FROM api_tokens ORDER BY id", []any(nil)
	if userID != "" {
		q, args = "SELECT "+identityTokenColumns+" FROM api_tokens WHERE user_id = ? ORDER BY id", []any{userID}
	}
	ts, err := identityList(ctx, x, q, args, identityScanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// RevokeToken implements idstore.Store.
func (x *Identities) RevokeToken(ctx context.Context, id string, at time.Time) (idstore.Token, error) {
	if err := x.enter("revoke token " + id); err != nil {
		return idstore.Token{}, err
	}
	defer x.s.ops.Done()
	var r identityTokenRow
	err := x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		err := w.identityUpdateRow(identityRevokeTokenSQL, []any{nanos(at), id}, r.dest()...)
		if errors.Is(err, sql.ErrNoRows) {
			return identityNotFound("token: no token with id %q", id)
		}
		return err
	})
	if err != nil {
		return idstore.Token{}, fmt.Errorf("revoke token %s: %w", id, err)
	}
	return r.token(), nil
}

// TouchToken implements idstore.Store.
func (x *Identities) TouchToken(ctx context.Context, id string, at time.Time) error {
	return x.touch(ctx, "touch token "+id, identityTouchTokenSQL, identityTokenExistsSQL, id, at,
		func() error { return identityNotFound("token: no token with id %q", id) })
}

// touch runs a conditional last-used update; when it changes nothing, it
// tells an unknown id (refused with missing) from a later time already
// stored (nothing to do).
func (x *Identities) touch(ctx context.Context, op, update, exists, id string, at time.Time, missing func() error) error {
	if err := x.enter(op); err != nil {
		return err
	}
	defer x.s.ops.Done()
	err := x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		n, err := w.identityExec(update, nanos(at), id)
		if err != nil || n > 0 {
			return err
		}
		var found string
		err = w.identityRow(exists, []any{id}, &found)
		if errors.Is(err, sql.ErrNoRows) {
			return missing()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// LookupToken implements idstore.Store.
func (x *Identities) LookupToken(ctx context.Context, h idstore.Hash) (idstore.Token, idstore.User, error) {
	if err := x.enter("look up token"); err != nil {
		return idstore.Token{}, idstore.User{}, err
	}
	defer x.s.ops.Done()
	st, err := x.prepared(ctx, &x.lookupToken, identityLookupTokenSQL)
	if err != nil {
		return idstore.Token{}, idstore.User{}, fmt.Errorf("look up token: %w", err)
	}
	var t identityTokenRow
	var u identityUserRow
	err = st.QueryRowContext(ctx, h[:]).Scan(append(t.dest(), u.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		err = identityNotFound("token: no such token")
	}
	if err != nil {
		return idstore.Token{}, idstore.User{}, fmt.Errorf("look up token: %w", err)
	}
	user, err := u.user()
	if err != nil {
		return idstore.Token{}, idstore.User{}, fmt.Errorf("look up token: %w", err)
	}
	return t.token(), user, nil
}

// prepared returns the read statement in p, preparing it on first use. The
// statement joins the Store's read statements, which Close closes; the
// caller has entered, so Close waits for it.
func (x *Identities) prepared(ctx context.Context, p *atomic.Pointer[sql.Stmt], query string) (*sql.Stmt, error) {
	if st := p.Load(); st != nil {
		return st, nil
	}
	r := &x.s.reads
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := p.Load(); st != nil {
		return st, nil
	}
	st, err := x.s.readDB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	r.all = append(r.all, st)
	p.Store(st)
	return st, nil
}

// identityList runs a read query and scans every row with scan.
func identityList[T any](ctx context.Context, x *Identities, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	if err := x.enter("read"); err != nil {
		return nil, err
	}
	defer x.s.ops.Done()
	rows, err := x.s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// Devices.

// CreateDevice implements idstore.Store.
func (x *Identities) CreateDevice(ctx context.Context, d idstore.Device) error {
	switch {
	case d.ID == "":
		return fmt.Errorf("create device: %w", invalid("id: must not be empty"))
	case !d.Trust.Valid():
		return fmt.Errorf("create device %s: %w", d.ID, invalid("trust: %q is not a trust level (untrusted, verified, trusted)", d.Trust))
	}
	if d.LastSeenAt.IsZero() {
		d.LastSeenAt = d.CreatedAt
	}
	if err := x.enter("create device " + d.ID); err != nil {
		return err
	}
	defer x.s.ops.Done()
	err := x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		if err := w.checkUser(d.UserID); err != nil {
			return err
		}
		_, err := w.identityExec(identityInsertDeviceSQL, d.ID, d.UserID, d.Name, string(d.Trust), nanos(d.CreatedAt), nanos(d.LastSeenAt))
		switch identityConstraint(err) {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return identityConflict("id: device %s already exists", d.ID)
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return identityConflict("name: the user already has a device named %q", d.Name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create device %s: %w", d.ID, err)
	}
	return nil
}

func identityScanDevice(sc scanner) (idstore.Device, error) {
	var r identityDeviceRow
	if err := sc.Scan(r.dest()...); err != nil {
		return idstore.Device{}, err
	}
	return r.device(), nil
}

// Device implements idstore.Store.
func (x *Identities) Device(ctx context.Context, id string) (idstore.Device, error) {
	ds, err := identityList(ctx, x, "SELECT "+identityDeviceColumns+" FROM devices WHERE id = ?", []any{id}, identityScanDevice)
	if err == nil && len(ds) == 0 {
		err = identityNotFound("device: no device with id %q", id)
	}
	if err != nil {
		return idstore.Device{}, fmt.Errorf("get device %s: %w", id, err)
	}
	return ds[0], nil
}

// Devices implements idstore.Store.
func (x *Identities) Devices(ctx context.Context, userID string) ([]idstore.Device, error) {
	q, args := "SELECT "+identityDeviceColumns+" FROM devices ORDER BY id", []any(nil)
	if userID != "" {
		q, args = "SELECT "+identityDeviceColumns+" FROM devices WHERE user_id = ? ORDER BY id", []any{userID}
	}
	ds, err := identityList(ctx, x, q, args, identityScanDevice)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return ds, nil
}

// SetDeviceTrust implements idstore.Store.
func (x *Identities) SetDeviceTrust(ctx context.Context, id string, trust idstore.Trust) (idstore.Device, error) {
	if !trust.Valid() {
		return idstore.Device{}, fmt.Errorf("set trust of device %s: %w", id, invalid("trust: %q is not a trust level (untrusted, verified, trusted)", trust))
	}
	if err := x.enter("set trust of device " + id); err != nil {
		return idstore.Device{}, err
	}
	defer x.s.ops.Done()
	var r identityDeviceRow
	err := x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		err := w.identityUpdateRow(identitySetTrustSQL, []any{string(trust), id}, r.dest()...)
		if errors.Is(err, sql.ErrNoRows) {
			return identityNotFound("device: no device with id %q", id)
		}
		return err
	})
	if err != nil {
		return idstore.Device{}, fmt.Errorf("set trust of device %s: %w", id, err)
	}
	return r.device(), nil
}

// TouchDevice implements idstore.Store.
func (x *Identities) TouchDevice(ctx context.Context, id string, at time.Time) error {
	return x.touch(ctx, "touch device "+id, identityTouchDeviceSQL, identityDeviceExistsSQL, id, at,
		func() error { return identityNotFound("device: no device with id %q", id) })
}

// Sessions.

// CreateSession implements idstore.Store.
func (x *Identities) CreateSession(ctx context.Context, s idstore.Session, h idstore.Hash) error {
	if s.ID == "" {
		return fmt.Errorf("create session: %w", invalid("id: must not be empty"))
	}
	roles, err := identityEncodeRoles(s.Roles)
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	if err := x.enter("create session " + s.ID); err != nil {
		return err
	}
	defer x.s.ops.Done()
	err = x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		if err := w.checkUser(s.UserID); err != nil {
			return err
		}
		if s.DeviceID != "" {
			var owner string
			err := w.identityRow(identityDeviceExistsSQL, []any{s.DeviceID}, &owner)
			if errors.Is(err, sql.ErrNoRows) || err == nil && owner != s.UserID {
				return identityNotFound("device_id: user %s has no device with id %q", s.UserID, s.DeviceID)
			}
			if err != nil {
				return err
			}
		}
		_, err := w.identityExec(identityInsertSessionSQL, s.ID, s.UserID, nullString(s.DeviceID), roles,
			nanos(s.CreatedAt), nanos(s.ExpiresAt), h[:])
		switch identityConstraint(err) {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return identityConflict("id: session %s already exists", s.ID)
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return identityConflict("secret: a session with the same secret already exists")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	return nil
}

func identityScanSession(sc scanner) (idstore.Session, error) {
	var r identitySessionRow
	if err := sc.Scan(r.dest()...); err != nil {
		return idstore.Session{}, err
	}
	return r.session()
}

// Session implements idstore.Store.
func (x *Identities) Session(ctx context.Context, id string) (idstore.Session, error) {
	ss, err := identityList(ctx, x, "SELECT "+identitySessionColumns+" FROM sessions WHERE id = ?", []any{id}, identityScanSession)
	if err == nil && len(ss) == 0 {
		err = identityNotFound("session: no session with id %q", id)
	}
	if err != nil {
		return idstore.Session{}, fmt.Errorf("get session %s: %w", id, err)
	}
	return ss[0], nil
}

// Sessions implements idstore.Store.
func (x *Identities) Sessions(ctx context.Context, userID string) ([]idstore.Session, error) {
	q, args := "SELECT "+identitySessionColumns+" FROM sessions ORDER BY id", []any(nil)
	if userID != "" {
		q, args = "SELECT "+identitySessionColumns+" FROM sessions WHERE user_id = ? ORDER BY id", []any{userID}
	}
	ss, err := identityList(ctx, x, q, args, identityScanSession)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return ss, nil
}

// RevokeSession implements idstore.Store.
func (x *Identities) RevokeSession(ctx context.Context, id string, at time.Time) (idstore.Session, error) {
	if err := x.enter("revoke session " + id); err != nil {
		return idstore.Session{}, err
	}
	defer x.s.ops.Done()
	var r identitySessionRow
	err := x.s.write(ctx, withoutSavepoint, func(w *writer) error {
		err := w.identityUpdateRow(identityRevokeSessionSQL, []any{nanos(at), id}, r.dest()...)
		if errors.Is(err, sql.ErrNoRows) {
			return identityNotFound("session: no session with id %q", id)
		}
		return err
	})
	if err != nil {
		return idstore.Session{}, fmt.Errorf("revoke session %s: %w", id, err)
	}
	return r.session()
}

// LookupSession implements idstore.Store.
func (x *Identities) LookupSession(ctx context.Context, h idstore.Hash) (idstore.Session, idstore.User, error) {
	if err := x.enter("look up session"); err != nil {
		return idstore.Session{}, idstore.User{}, err
	}
	defer x.s.ops.Done()
	st, err := x.prepared(ctx, &x.lookupSession, identityLookupSessionSQL)
	if err != nil {
		return idstore.Session{}, idstore.User{}, fmt.Errorf("look up session: %w", err)
	}
	var s identitySessionRow
	var u identityUserRow
	err = st.QueryRowContext(ctx, h[:]).Scan(append(s.dest(), u.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		err = identityNotFound("session: no such session")
	}
	if err != nil {
		return idstore.Session{}, idstore.User{}, fmt.Errorf("look up session: %w", err)
	}
	sess, err := s.session()
	if err != nil {
		return idstore.Session{}, idstore.User{}, fmt.Errorf("look up session: %w", err)
	}
	user, err := u.user()
	if err != nil {
		return idstore.Session{}, idstore.User{}, fmt.Errorf("look up session: %w", err)
	}
	return sess, user, nil
}
