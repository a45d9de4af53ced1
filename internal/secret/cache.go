package secret

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
)

// Fetch reads the whole secret id (a [Ref]'s SecretID: a name or an ARN)
// from a secret store. Its errors name the secret, say what to do, never
// hold the value, and wrap ErrNotFound, ErrAccessDenied or ErrUnavailable
// where those apply.
type Fetch func(ctx context.Context, id string) (string, error)

// Cache resolves references with a store's Fetch. Each secret is fetched
// once and kept for the life of the process, which in Lambda is the
// container: concurrent first requests for one secret make one fetch, and
// fields of one JSON secret share it. Failures are not kept; the next
// Resolve tries again.
//
// The cache is here rather than with a store so that every store keeps
// secrets, and selects "#field"s, the same way; package awssecret supplies
// the Fetch for AWS Secrets Manager.
type Cache struct {
	store string // names the store in errors ("Secrets Manager")
	fetch Fetch

	mu      sync.Mutex
	secrets map[string]*flight // by SecretID
}

var _ Resolver = (*Cache)(nil)

// flight is one secret's fetch: under way until done is closed, then
// holding the secret (or, briefly, the error that waiters share).
type flight struct {
	done chan struct{}
	s    string
	err  error
	// again: the fetch ended because its own caller's context did, which
	// says nothing of the secret, so waiters fetch again themselves.
	again bool
}

// NewCache returns a Cache reading secrets with fetch from the store that
// errors call store.
func NewCache(store string, fetch Fetch) *Cache {
	return &Cache{store: store, fetch: fetch, secrets: map[string]*flight{}}
}

// Resolve returns the secret that ref refers to, or its field for a
// "#field" reference.
func (c *Cache) Resolve(ctx context.Context, ref string) (Value, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return Value{}, err
	}
	s, err := c.secret(ctx, r.SecretID)
	if err != nil {
		return Value{}, err
	}
	if r.Field == "" {
		return New(s), nil
	}
	f, err := selectField(r, s)
	if err != nil {
		return Value{}, err
	}
	return New(f), nil
}

// secret returns the secret id, fetching it unless it is kept or being
// fetched.
func (c *Cache) secret(ctx context.Context, id string) (string, error) {
	for {
		c.mu.Lock()
		f, ok := c.secrets[id]
		if !ok {
			f = &flight{done: make(chan struct{})}
			c.secrets[id] = f
			c.mu.Unlock()
			return c.lead(ctx, id, f)
		}
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", fmt.Errorf("secret %q: waiting for %s: %w", id, c.store, ctx.Err())
		}
		if f.err == nil {
			return f.s, nil
		}
		if !f.again {
			return "", f.err
		}
	}
}

// lead fetches for f and everyone waiting on it.
func (c *Cache) lead(ctx context.Context, id string, f *flight) (string, error) {
	f.err = fmt.Errorf("secret %q: fetching it from %s panicked", id, c.store) // unless fetch returns
	defer func() {
		if f.err != nil {
			f.again = ctx.Err() != nil
			c.mu.Lock()
			delete(c.secrets, id)
			c.mu.Unlock()
		}
		close(f.done)
	}()
	f.s, f.err = c.fetch(ctx, id)
	return f.s, f.err
}

// Forget drops the cached secret of ref, so that the next Resolve reads
// it again: for a credential the vendor refused (rotated since it was
// cached).
func (c *Cache) Forget(ref string) {
	r, err := ParseRef(ref)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.secrets[r.SecretID]; f != nil {
		select {
		case <-f.done:
			delete(c.secrets, r.SecretID)
		default: // a fetch under way reads the current value anyway
		}
	}
}

// selectField returns the string field r.Field of the JSON object s. Its
// errors never quote s: a secret that is not JSON may be the key itself.
func selectField(r Ref, s string) (string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
		return "", fmt.Errorf("secret %q: secret %q is not a JSON object, so field %q cannot be selected: store a JSON object in it, or drop \"#%s\" from the reference", r.Name(), r.SecretID, r.Field, r.Field)
	}
	raw, ok := obj[r.Field]
	if !ok {
		return "", fmt.Errorf("secret %q: field %q %w in secret %q: add it to the secret's JSON object (field names are case-sensitive)", r.Name(), r.Field, ErrNotFound, r.SecretID)
	}
	var f string
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", fmt.Errorf("secret %q: field %q of secret %q is not a JSON string: store the value as a string", r.Name(), r.Field, r.SecretID)
	}
	if f == "" {
		return "", fmt.Errorf("secret %q: field %q of secret %q is empty: put the secret's value in it", r.Name(), r.Field, r.SecretID)
	}
	return f, nil
}
