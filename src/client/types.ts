/** The wire types of the APIXO video-task API, as Longshot and api.apixo.ai serve it. */

export type Model = 'veo-3-1' | 'veo-3-1-extend';
export type Mode = 'fast' | 'quality';
export type AspectRatio = '16:9' | '9:16' | 'auto';
export type GenerationType = 'TEXT_2_VIDEO' | 'FIRST_AND_LAST_FRAMES_2_VIDEO' | 'REFERENCE_2_VIDEO';
export type Provider = 'auto' | 'value' | 'official';
export type RequestType = 'async' | 'callback';
export type TaskState = 'pending' | 'processing' | 'success' | 'failed';

/** `input` of a `veo-3-1` submit, with the field names the API uses. */
export interface GenerateInput {
  /** 1–10000 characters. */
  prompt: string;
  /** The API's default is `quality`. */
  mode?: Mode;
  /** Default `TEXT_2_VIDEO`. */
  generationType?: GenerationType;
  /** Default `16:9`. */
  aspect_ratio?: AspectRatio;
  /** 1–2 for FIRST_AND_LAST_FRAMES_2_VIDEO, 1–3 for REFERENCE_2_VIDEO; http(s) JPEG/PNG/WebP. */
  image_urls?: string[];
  /** Text drawn on the video, up to 64 characters. */
  watermark?: string;
  /** Integer 0–4294967295; the same input and seed give the same video. */
  seed?: number;
  enableTranslation?: boolean;
}

/** `input` of a `veo-3-1-extend` submit, without the source `taskId` (an argument of extend()). */
export interface ExtendInput {
  prompt: string;
  /** The API's default is `fast`. */
  mode?: Mode;
  watermark?: string;
  seed?: number;
}

export interface SubmitOptions {
  /** `async` (default) or `callback`; `callback` needs `callbackUrl`. */
  requestType?: RequestType;
  /** Public https URL that receives the final status envelope, signed per Standard Webhooks. */
  callbackUrl?: string;
  /**
   * Longshot addition: which events a callback task is sent (`processing`, `progress` at most
   * every 5 s, `success`, `failed`); the server's default is its end only.
   */
  callbackEvents?: ReadonlyArray<'processing' | 'progress' | 'success' | 'failed'>;
  provider?: Provider;
  /**
   * Sent as the `Idempotency-Key` header, the same on every retry of this call, so a retried
   * submit cannot create a second task where the server supports the header. Default: a random
   * UUID per call. Pass `false` to send none.
   */
  idempotencyKey?: string | false;
  signal?: AbortSignal;
}

/**
 * The `data` of a status response exactly as the server sent it, plus `resultUrls` parsed from
 * the `resultJson` string (empty unless the task succeeded).
 */
export interface TaskStatus {
  taskId: string;
  state: TaskState;
  /** Unix ms. */
  createTime: number;
  /** A JSON string `{"resultUrls":[...]}` on success, as the API sends it. */
  resultJson?: string;
  completeTime?: number;
  costTime?: number;
  failCode?: string;
  failMsg?: string;
  /** Longshot addition: a signed JPEG poster of the result (absent on APIXO). */
  posterUrl?: string;
  /** Longshot addition: when the result files were deleted (retention or deleteTask()), Unix ms. */
  deletedAt?: number;
  /**
   * Longshot additions (absent on APIXO, and whenever not known): progress 0–100 (never lower
   * than before; estimated from time for upstream engines; 100 at success), the number of
   * pending tasks ahead of a pending one, and the seconds until the task should end.
   */
  progress?: number;
  queuePosition?: number;
  etaSeconds?: number;
  /** Parsed from `resultJson`; `[]` before success. */
  resultUrls: string[];
  /** Any other field a server adds. */
  [extra: string]: unknown;
}

/** Longshot addition: one task of a lineage tree (GET /api/v1/tasks/{taskId}/lineage). */
export interface LineageNode {
  taskId: string;
  /** The task this one extends; null for the root generation. */
  parentTaskId: string | null;
  /** Extensions between the root and this task: 0 for the root. */
  depth: number;
  model: Model;
  /** Unix ms. */
  createdAt: number;
  /** The key may not read this task: only its place in the tree is given, the fields below are null. */
  hidden: boolean;
  state: TaskState | null;
  mode: Mode | null;
  prompt: string | null;
  /** On success: the video's length (an extension's includes its source). */
  durationSeconds: number | null;
  completedAt: number | null;
  failCode: string | null;
  /** Signed like statusTask's URLs; null unless succeeded and still stored. */
  videoUrl: string | null;
  posterUrl: string | null;
  deleted: boolean;
  deletedAt: number | null;
}

/** Longshot addition: the tree a task belongs to; `nodes` lists parents before their children. */
export interface TaskLineage {
  taskId: string;
  rootTaskId: string;
  /** More than 500 tasks: some were left out (never the path from the root to `taskId`). */
  truncated: boolean;
  nodes: LineageNode[];
}

/** Longshot addition: the filters and page of listTasks() (GET /api/v1/tasks). */
export interface TaskListQuery {
  state?: TaskState;
  model?: Model;
  /** 1–100; the server's default is 20. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface TaskPage {
  /** Newest first; each is the status data plus its `model`. */
  tasks: Array<TaskStatus & { model: Model }>;
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/** The envelope every response (and every callback body) has. */
export interface Envelope<T = unknown> {
  code: number;
  message: string;
  data: T;
}

export interface WaitProgress {
  /** Milliseconds since wait() started. */
  elapsedMs: number;
  /** Status reads made so far. */
  polls: number;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called after every status read, with the status data. */
  onProgress?: (status: TaskStatus, progress: WaitProgress) => void;
  /**
   * The task's mode, used only for the first-poll delay (the seed page's advice: 30 s after
   * creation for fast, 60 s for quality). Default `fast`.
   */
  mode?: Mode;
  /** Overrides the first-poll delay, in ms after the task's creation. */
  firstPollMs?: number;
  /** Overrides the interval between polls (default 10 s). */
  intervalMs?: number;
  /** Give up (WaitTimeoutError) after this many ms; default: no limit. */
  timeoutMs?: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  contentType: string | null;
}
