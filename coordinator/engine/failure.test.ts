import { Metadata, status } from '@grpc/grpc-js';
import { AlcorError } from '@merak/common';
import { describe, expect, it } from 'vitest';
import { ControlPlaneError } from '../providers/provider.js';
import { describeFailure } from './failure.js';

describe('describeFailure', () => {
  it("names the run's step and the Alcor call, found along the causes, with its status and body", () => {
    const call = new AlcorError('POST /project/{project_id}/subnets', 'http://alcor:30002/project/p/subnets', 500, '{"message":"down"}', 'answered 500, expected 201');
    const wrapped = new ControlPlaneError('Alcor set-up of subnet vpc1/s1 failed', [], { cause: call });
    expect(describeFailure(wrapped, 'network')).toEqual({
      step: 'network set-up', phase: 'network', message: wrapped.message,
      call: { system: 'alcor', operation: 'subnet create', endpoint: 'POST /project/{project_id}/subnets', url: 'http://alcor:30002/project/p/subnets', status: 500, body: '{"message":"down"}' },
    });
  });

  it("keeps an agent call's gRPC status, and a teardown's leftovers", () => {
    const grpc = Object.assign(new Error('14 UNAVAILABLE: gone'), { code: status.UNAVAILABLE, details: 'gone', metadata: new Metadata() });
    expect(describeFailure(grpc, 'testing').call).toMatchObject({ system: 'grpc', status: 'UNAVAILABLE', body: 'gone' });
    const teardown = new ControlPlaneError('could not remove everything from Alcor (2 left)', ['vpc vpc1: 500', 'node hv-0: 500']);
    expect(describeFailure(teardown, 'deleting')).toMatchObject({ step: 'teardown', leftovers: ['vpc vpc1: 500', 'node hv-0: 500'] });
    expect(describeFailure(new Error('plain'), 'creating')).toEqual({ step: 'VM creation', phase: 'creating', message: 'plain' });
  });
});
