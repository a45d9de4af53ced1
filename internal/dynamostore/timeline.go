package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stakeout-ml/stakeout/internal/layout"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Timeline returns the model's version timeline (empty, version 0, when
// it has none).
func (s *Store) Timeline(ctx context.Context, model string) (*state.Timeline, error) {
	t := state.Timeline{Model: model}
	pk, sk := layout.Timeline(model)
	_, err := s.get(ctx, pk, sk, &t)
	return &t, err
}

// maxTimelineAttempts bounds the re-reads when other writers move the
// timeline between read and write (deploys of one model are rare).
const maxTimelineAttempts = 8

// RecordVersionChange adds c to its model's timeline, conditionally on
// the version read; false when the timeline held it already.
func (s *Store) RecordVersionChange(ctx context.Context, c signal.VersionChange) (bool, error) {
	for range maxTimelineAttempts {
		t, err := s.Timeline(ctx, c.Model)
		if err != nil {
			return false, err
		}
		if !t.Add(c) {
			return false, nil
		}
		it, err := layout.TimelineItem(t)
		if err == nil {
			err = it.Check()
		}
		if err != nil {
			return false, fmt.Errorf("record version %s of %s: %w", c.Version, c.Model, err)
		}
		put := s.versionedPut(it)
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: put.TableName, Item: put.Item, ConditionExpression: put.ConditionExpression,
			ExpressionAttributeNames: put.ExpressionAttributeNames, ExpressionAttributeValues: put.ExpressionAttributeValues})
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("record version %s of %s: %w", c.Version, c.Model, rejected(err))
		}
		return true, nil
	}
	return false, fmt.Errorf("record version %s of %s: %w after %d attempts", c.Version, c.Model, state.ErrConflict, maxTimelineAttempts)
}
